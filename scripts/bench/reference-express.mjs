// The framework's ceiling: bare Express 5 with express.json, the same JWT check, res.send.
import { createRequire } from 'node:module';
import { ready, references } from './reference-common.mjs';

const express = createRequire(import.meta.url)('express');
const ref = references();
const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.use(express.json());
app.use(function auth(req, res, next) {
  req.userId = ref.verify(req.headers.authorization);
  if (req.userId === null) return res.status(401).end();
  next();
});
app.get('/hot', (_req, res) => res.type('json').send(ref.hot));
app.get('/api/v1/tasks', (_req, res) => res.type('json').send(ref.list()));
app.get('/api/v1/tasks/:id', (req, res) => {
  const body = ref.one(Number(req.params.id));
  return body ? res.type('json').send(body) : res.status(404).end();
});
app.post('/api/v1/tasks', (req, res) => res.status(201).type('json').send(ref.create(req.body.title, req.userId)));
app.listen(ref.port, '127.0.0.1', ready);
