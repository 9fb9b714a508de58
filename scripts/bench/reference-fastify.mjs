// The peer: Fastify 5 with the same JWT check and the same SQL.
import { createRequire } from 'node:module';
import { references } from './reference-common.mjs';

const fastify = createRequire(import.meta.url)('fastify')({ logger: false });
const ref = references();
fastify.addHook('onRequest', async (req, reply) => {
  if (!ref.verify(req.headers.authorization)) reply.code(401).send({});
});
const send = (reply, status, body) => reply.code(status).type('application/json; charset=utf-8').send(body);
fastify.get('/hot', (_req, reply) => send(reply, 200, ref.hot));
fastify.get('/api/v1/tasks', (_req, reply) => send(reply, 200, ref.list()));
fastify.get('/api/v1/tasks/:id', (req, reply) => {
  const body = ref.one(Number(req.params.id));
  return body ? send(reply, 200, body) : send(reply, 404, '{}');
});
fastify.post('/api/v1/tasks', (req, reply) => send(reply, 201, ref.create(req.body.title)));
fastify.listen({ port: Number(process.env.PORT), host: '127.0.0.1' }).then(() => process.stdout.write('ready\n'));
