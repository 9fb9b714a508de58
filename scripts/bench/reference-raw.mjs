// The limit: node:http and better-sqlite3, nothing else.
import { createServer } from 'node:http';
import { references } from './reference-common.mjs';

const ref = references();
const json = (res, status, body) => {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
};
createServer((req, res) => {
  if (!ref.verify(req.headers.authorization)) return json(res, 401, '{}');
  const url = req.url.split('?')[0];
  if (req.method === 'GET' && url === '/hot') return json(res, 200, ref.hot);
  if (req.method === 'GET' && url === '/api/v1/tasks') return json(res, 200, ref.list());
  if (req.method === 'GET' && url.startsWith('/api/v1/tasks/')) {
    const body = ref.one(Number(url.slice(14)));
    return body ? json(res, 200, body) : json(res, 404, '{}');
  }
  if (req.method === 'POST' && url === '/api/v1/tasks') {
    let text = '';
    req.on('data', (c) => (text += c));
    req.on('end', () => json(res, 201, ref.create(JSON.parse(text).title)));
    return;
  }
  json(res, 404, '{}');
}).listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('ready\n'));
