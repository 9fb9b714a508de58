// The peer: Fastify 5 with its own JSON body parser, the same JWT check and the same SQL.
import { createRequire } from 'node:module';
import { ready, references } from './reference-common.mjs';

const ref = references();
const app = createRequire(import.meta.url)('fastify')({ logger: false });
app.decorateRequest('userId', null);
app.addHook('onRequest', async function auth(req, reply) {
  req.userId = ref.verify(req.headers.authorization);
  if (req.userId === null) return reply.code(401).send({});
});
const send = (reply, status, body) => reply.code(status).type('application/json; charset=utf-8').send(body);
app.get('/hot', (_req, reply) => send(reply, 200, ref.hot));
app.get('/api/v1/tasks', (_req, reply) => send(reply, 200, ref.list()));
app.get('/api/v1/tasks/:id', (req, reply) => {
  const body = ref.one(Number(req.params.id));
  return body ? send(reply, 200, body) : send(reply, 404, '{}');
});
app.post('/api/v1/tasks', (req, reply) => send(reply, 201, ref.create(req.body.title, req.userId)));
app.listen({ port: ref.port, host: '127.0.0.1' }).then(ready);
