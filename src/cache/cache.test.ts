import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from '../test-support/app.js';
import { redisMissing, startRedis, type RedisServer } from '../test-support/redis.js';

const skipRedis = redisMissing();

for (const backend of ['embedded', 'redis'] as const) {
  describe(`response cache (${backend})`, { skip: backend === 'redis' ? (skipRedis ?? false) : false }, () => {
    let app: TestApp;
    let redis: RedisServer | undefined;
    let admin: { token: string };

    before(async () => {
      if (backend === 'redis') redis = await startRedis();
      app = await startTestApp(redis ? { REDIS_URL: redis.url } : {});
      admin = await app.api.signUp();
    });
    after(async () => {
      await app.close();
      await redis?.stop();
    });

    test('a list is a MISS first, then a HIT with the same body and ETag', async () => {
      await app.api.post('/api/v1/tasks', { token: admin.token, json: { title: 'cached' } });
      const first = await app.api.get('/api/v1/tasks?limit=5', { token: admin.token });
      const second = await app.api.get('/api/v1/tasks?limit=5', { token: admin.token });
      assert.equal(first.headers.get('x-cache'), 'MISS');
      assert.equal(second.headers.get('x-cache'), 'HIT');
      assert.equal(second.text, first.text);
      assert.equal(second.headers.get('etag'), first.headers.get('etag'));
      assert.match(second.headers.get('content-type') ?? '', /^application\/json/);
    });

    test('each query shape has its own entry', async () => {
      await app.api.get('/api/v1/tasks?limit=7&sort=title', { token: admin.token });
      const other = await app.api.get('/api/v1/tasks?limit=7&sort=title&order=asc', { token: admin.token });
      assert.equal(other.headers.get('x-cache'), 'MISS');
      const same = await app.api.get('/api/v1/tasks?sort=title&limit=7', { token: admin.token });
      assert.equal(same.headers.get('x-cache'), 'HIT', 'parameter order does not matter');
    });

    test('If-None-Match with the current ETag is 304 without a body', async () => {
      const first = await app.api.get('/api/v1/tasks?limit=3', { token: admin.token });
      const again = await app.api.get('/api/v1/tasks?limit=3', { token: admin.token, headers: { 'if-none-match': first.headers.get('etag')! } });
      assert.equal(again.status, 304);
      assert.equal(again.text, '');
    });

    test('every mutation invalidates: create, change and delete are visible on the next read', async () => {
      const list = () => app.api.get('/api/v1/tasks?limit=100', { token: admin.token });
      await list();
      const created = await app.api.post('/api/v1/tasks', { token: admin.token, json: { title: 'fresh' } });
      const afterCreate = await list();
      assert.equal(afterCreate.headers.get('x-cache'), 'MISS');
      assert.ok(afterCreate.body.data.some((t: { id: number }) => t.id === created.body.id));

      await app.api.get(`/api/v1/tasks/${created.body.id}`, { token: admin.token });
      assert.equal((await app.api.get(`/api/v1/tasks/${created.body.id}`, { token: admin.token })).headers.get('x-cache'), 'HIT');
      await app.api.patch(`/api/v1/tasks/${created.body.id}`, { token: admin.token, json: { title: 'changed' } });
      const one = await app.api.get(`/api/v1/tasks/${created.body.id}`, { token: admin.token });
      assert.equal(one.headers.get('x-cache'), 'MISS');
      assert.equal(one.body.title, 'changed');

      await app.api.delete(`/api/v1/tasks/${created.body.id}`, { token: admin.token });
      assert.equal((await app.api.get(`/api/v1/tasks/${created.body.id}`, { token: admin.token })).status, 404);
      assert.ok(!(await list()).body.data.some((t: { id: number }) => t.id === created.body.id));
    });

    test('a refused or failed request does not invalidate', async () => {
      await app.api.get('/api/v1/tasks?limit=9', { token: admin.token });
      await app.api.patch('/api/v1/tasks/999999', { token: admin.token, json: { title: 'x' } });
      await app.api.post('/api/v1/tasks', { token: admin.token, json: { title: '' } });
      assert.equal((await app.api.get('/api/v1/tasks?limit=9', { token: admin.token })).headers.get('x-cache'), 'HIT');
    });

    if (backend === 'redis') {
      test('entries live in Redis with the operation TTL, under a generation key', async () => {
        const client = new Redis(redis!.url);
        const keys = await client.keys('backend-api:v1:tasks:*');
        assert.ok(keys.length > 0);
        const ttl = await client.ttl(keys[0]!);
        assert.ok(ttl > 0 && ttl <= 60, `ttl ${ttl}`);
        client.disconnect();
        const health = await app.api.get('/health');
        assert.equal(health.body.checks.redis, 'up');
      });
    } else {
      test('/health says Redis is disabled', async () => {
        const health = await app.api.get('/health');
        assert.equal(health.body.checks.redis, 'disabled');
        assert.equal(health.body.status, 'ok');
      });
    }
  });
}

describe('response cache switched off', () => {
  let app: TestApp;
  before(async () => (app = await startTestApp({ CACHE_ENABLED: 'false' })));
  after(() => app.close());

  test('every read is a MISS', async () => {
    const { token } = await app.api.signUp();
    await app.api.get('/api/v1/tasks', { token });
    assert.equal((await app.api.get('/api/v1/tasks', { token })).headers.get('x-cache'), 'MISS');
  });
});
