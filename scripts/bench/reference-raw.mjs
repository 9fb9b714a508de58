// The limit: node:http and better-sqlite3, nothing else.
import { createServer } from 'node:http';
import { ready, references } from './reference-common.mjs';

const ref = references();

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

createServer(function rawHandler(req, res) {
  const userId = ref.verify(req.headers.authorization);
  if (userId === null) return json(res, 401, '{}');
  const path = req.url.split('?')[0];
  if (req.method === 'GET' && path === '/hot') return json(res, 200, ref.hot);
  if (req.method === 'GET' && path === '/api/v1/tasks') return json(res, 200, ref.list());
  if (req.method === 'GET' && path.startsWith('/api/v1/tasks/')) {
    const body = ref.one(Number(path.slice('/api/v1/tasks/'.length)));
    return body ? json(res, 200, body) : json(res, 404, '{}');
  }
  if (req.method === 'POST' && path === '/api/v1/tasks') {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      try {
        json(res, 201, ref.create(JSON.parse(Buffer.concat(chunks).toString()).title, userId));
      } catch {
        json(res, 400, '{}');
      }
    });
    return;
  }
  json(res, 404, '{}');
}).listen(ref.port, '127.0.0.1', ready);
