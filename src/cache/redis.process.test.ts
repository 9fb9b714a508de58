import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import { freshAdminToken, freshRequest } from '../test-support/fresh.js';
import { runLoad } from '../test-support/load.js';
import { startServerProcess, type ServerProcess } from '../test-support/process.js';
import { redisMissing, startRedis, type RedisServer } from '../test-support/redis.js';

const skip = redisMissing();

for (const backend of ['redis', 'embedded'] as const) {
  describe(`two workers, ${backend} cache and limits`, { skip: backend === 'redis' ? (skip ?? false) : false }, () => {
    let redis: RedisServer | undefined;
    const servers: ServerProcess[] = [];
    after(async () => {
      servers.forEach((s) => s.kill('SIGKILL'));
      await redis?.stop();
    });
    const start = async (env: Record<string, string>) => {
      if (backend === 'redis') redis ??= await startRedis();
      const server = await startServerProcess({ env: { ...env, ...(redis ? { REDIS_URL: redis.url } : {}) } });
      servers.push(server);
      return server;
    };

    test('read-your-writes: after a 2xx write on any worker, the next read on any worker shows it', async () => {
      const server = await start({});
      const token = await freshAdminToken(server.url);
      const task = (await freshRequest(server.url, 'POST', '/api/v1/tasks', token, { title: 'v0' })).body;
      let hits = 0;
      for (let i = 1; i <= 100; i++) {
        const changed = await freshRequest(server.url, 'PATCH', `/api/v1/tasks/${task.id}`, token, { title: `v${i}` });
        assert.equal(changed.status, 200);
        // Each path four times: with alternating workers, even a per-worker cache gets its hits.
        for (const path of [...Array(4).fill(`/api/v1/tasks/${task.id}`), ...Array(4).fill('/api/v1/tasks?limit=5')]) {
          const read = await freshRequest(server.url, 'GET', path, token);
          const seen = read.body.data ? read.body.data.find((t: { id: number }) => t.id === task.id) : read.body;
          assert.equal(seen.title, `v${i}`, `stale read on ${path} after write ${i} (${read.headers['x-cache']})`);
          if (read.headers['x-cache'] === 'HIT') hits++;
        }
      }
      const pids = new Set(server.records().filter((r) => r.message === 'request').map((r) => r.pid));
      console.log(`${backend}: 800 reads after 100 writes, ${hits} cache hits, served by ${pids.size} workers`);
      assert.equal(pids.size, 2);
      assert.ok(hits > 0, 'the cache was used');
    });

    test('the limit is exact across both workers: request N+1 is 429', async () => {
      const server = await start({ RATE_LIMIT_MAX: '40', RATE_LIMIT_WINDOW_SECONDS: '120' });
      const statuses: number[] = [];
      for (let i = 0; i < 41; i++) statuses.push((await freshRequest(server.url, 'GET', '/api/v1/tasks')).status);
      assert.deepEqual(statuses.slice(0, 40), Array(40).fill(401));
      assert.equal(statuses[40], 429);
      const pids = new Set(server.records().filter((r) => r.message === 'request').map((r) => r.pid));
      assert.equal(pids.size, 2, 'both workers answered');
    });
  });
}

describe('Redis killed under load', { skip: skip ?? false }, () => {
  let redis: RedisServer;
  let server: ServerProcess;
  after(async () => {
    server?.kill('SIGKILL');
    await redis?.stop();
  });

  test('no 5xx, no request slower than the command timeout plus margin, limits hold, the cache comes back', async () => {
    redis = await startRedis();
    server = await startServerProcess({ env: { REDIS_URL: redis.url, REDIS_COMMAND_TIMEOUT_MS: '300', RATE_LIMIT_MAX: '100000' } });
    const token = await freshAdminToken(server.url);
    const task = (await freshRequest(server.url, 'POST', '/api/v1/tasks', token, { title: 'steady' })).body;
    let phase: 'before' | 'outage' | 'back' = 'before';
    let outageStart = 0;
    let outageEnd = 0;
    const load = runLoad({
      baseUrl: server.url,
      concurrency: 8,
      durationMs: 7000,
      next: (i) => (i % 20 === 0 ? { method: 'PATCH', path: `/api/v1/tasks/${task.id}`, token, json: { title: `t${i}` } } : { method: 'GET', path: '/api/v1/tasks?limit=10', token }),
    });
    await sleep(1500);
    await redis.kill();
    phase = 'outage';
    outageStart = Date.now();
    await sleep(500);
    const health = await freshRequest(server.url, 'GET', '/health');
    assert.equal(health.body.checks.redis, 'down');
    assert.equal(health.body.status, 'degraded');
    await sleep(2000);
    await redis.start();
    outageEnd = Date.now();
    phase = 'back';
    const result = await load;
    const during = result.completed.filter((r) => r.startedAt >= outageStart && r.endedAt <= outageEnd);
    const slowest = Math.max(...during.map((r) => r.endedAt - r.startedAt));
    console.log(`redis outage: ${JSON.stringify(result.statuses)}; ${during.length} requests during the outage, slowest ${slowest} ms; failures ${result.failures.length}`);
    assert.equal(phase, 'back');
    assert.equal(result.failures.length, 0);
    assert.ok(Object.keys(result.statuses).every((s) => Number(s) < 500), JSON.stringify(result.statuses));
    assert.ok(during.length > 50);
    assert.ok(slowest < 300 + 700, `slowest request during the outage took ${slowest} ms`);

    await sleep(500);
    assert.equal((await freshRequest(server.url, 'GET', '/health')).body.checks.redis, 'up');
    await freshRequest(server.url, 'GET', '/api/v1/tasks?limit=2', token);
    const cached = await freshRequest(server.url, 'GET', '/api/v1/tasks?limit=2', token);
    const again = await freshRequest(server.url, 'GET', '/api/v1/tasks?limit=2', token);
    assert.ok([cached.headers['x-cache'], again.headers['x-cache']].includes('HIT'), 'the cache is used again');
  });

  test('while Redis is down the per-host insurance limit holds across workers', async () => {
    const limited = await startServerProcess({ env: { REDIS_URL: redis.url, RATE_LIMIT_MAX: '30' } });
    try {
      await redis.kill();
      const statuses: number[] = [];
      for (let i = 0; i < 31; i++) statuses.push((await freshRequest(limited.url, 'GET', '/api/v1/tasks')).status);
      assert.deepEqual(statuses.slice(0, 30), Array(30).fill(401));
      assert.equal(statuses[30], 429);
    } finally {
      limited.kill('SIGKILL');
      await redis.start();
    }
  });
});
