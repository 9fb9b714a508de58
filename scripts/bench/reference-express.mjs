// The framework's ceiling: bare Express 5 with its JSON parser, the same JWT check, res.send.
import { createRequire } from 'node:module';
import { references } from './reference-common.mjs';

const express = createRequire(import.meta.url)('express');
const ref = references();
const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.use(express.json());
app.use((req, res, next) => (ref.verify(req.headers.authorization) ? next() : res.status(401).end()));
app.get('/hot', (_req, res) => res.type('json').send(ref.hot));
app.get('/api/v1/tasks', (_req, res) => res.type('json').send(ref.list()));
app.get('/api/v1/tasks/:id', (req, res) => {
  const body = ref.one(Number(req.params.id));
  return body ? res.type('json').send(body) : res.status(404).end();
});
app.post('/api/v1/tasks', (req, res) => res.status(201).type('json').send(ref.create(req.body.title)));
app.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('ready\n'));
