import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import { freshAdminToken, freshRequest } from '../test-support/fresh.js';
import { runLoad, type LoadResult } from '../test-support/load.js';
import { startServerProcess, type ServerProcess } from '../test-support/process.js';
import { redisMissing, startRedis, type RedisServer } from '../test-support/redis.js';

const TIMEOUT_MS = 300;


/** untilHealth polls /health on fresh connections until `times` answers in a row (both workers) report redis as `state`; ms taken. */
async function untilHealth(url: string, state: 'up' | 'down', times = 4, limitMs = 15_000): Promise<number> {
  const started = Date.now();
  let streak = 0;
  while (streak < times) {
    if (Date.now() - started > limitMs) throw new Error(`/health did not report redis ${state} within ${limitMs} ms`);
    streak = (await freshRequest(url, 'GET', '/health')).body.checks.redis === state ? streak + 1 : 0;
    if (streak < times) await sleep(20);
  }
  return Date.now() - started;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function phase(result: LoadResult, from: number, to: number) {
  const durations = result.completed.filter((r) => r.startedAt >= from && r.endedAt <= to).map((r) => r.endedAt - r.startedAt);
  return { count: durations.length, p50: percentile(durations, 50), p99: percentile(durations, 99), max: Math.max(...durations) };
}

const skip = redisMissing();

describe('a hung Redis (SIGSTOP)', { skip: skip ?? false }, () => {
  let redis: RedisServer | undefined;
  const servers: ServerProcess[] = [];
  after(async () => {
    redis?.resume();
    for (const server of servers) {
      server.kill('SIGKILL');
      await server.exited;
    }
    await redis?.stop();
  });

  test('is reported down within about 2 s, requests stop waiting on it, and it is used again once it answers', async () => {
    redis = await startRedis();
    const server = await startServerProcess({ env: { REDIS_URL: redis.url, REDIS_COMMAND_TIMEOUT_MS: String(TIMEOUT_MS), RATE_LIMIT_MAX: '1000000' } });
    servers.push(server);
    const token = await freshAdminToken(server.url);
    const task = (await freshRequest(server.url, 'POST', '/api/v1/tasks', token, { title: 'steady' })).body;
    const load = runLoad({
      baseUrl: server.url,
      concurrency: 8,
      durationMs: 12_000,
      next: (i) =>
        i % 20 === 0 ? { method: 'PATCH', path: `/api/v1/tasks/${task.id}`, token, json: { title: `t${i}` } } : { method: 'GET', path: '/api/v1/tasks?limit=10', token },
    });
    await sleep(3000);
    const pausedAt = Date.now();
    redis.pause();
    const detectedMs = await untilHealth(server.url, 'down');
    const detectedAt = Date.now();
    await sleep(Math.max(0, 4000 - detectedMs));
    const resumedAt = Date.now();
    redis.resume();
    const recoveredMs = await untilHealth(server.url, 'up');
    const recoveredAt = Date.now();
    const result = await load;

    const before = phase(result, 0, pausedAt);
    const during = phase(result, pausedAt, resumedAt);
    const open = phase(result, detectedAt, resumedAt);
    const back = phase(result, recoveredAt, Infinity);
    const figures = (name: string, p: ReturnType<typeof phase>) => `${name} ${p.count} req p50 ${p.p50} ms p99 ${p.p99} ms max ${p.max} ms`;
    console.log(
      `redis hang: ${result.failures.length} failed, statuses ${JSON.stringify(result.statuses)}; reported down after ${detectedMs} ms, ` +
        `up ${recoveredMs} ms after SIGCONT; ${figures('before', before)}; ${figures('during', during)}; ${figures('after', back)}; ` +
        `p99 during vs 2×before+timeout: ${during.p99} vs ${2 * before.p99 + TIMEOUT_MS} ms`,
    );
    assert.equal(result.failures.length, 0);
    assert.ok(Object.keys(result.statuses).every((s) => Number(s) < 500), JSON.stringify(result.statuses));
    assert.ok(open.count > 50, 'requests went on during the hang');
    // Without the breaker every cached read waits out the limiter's timeout and then the cache's (p50 over 600 ms).
    // Measured against this run's own normal, so a busy machine moves both sides.
    assert.ok(during.p99 <= 2 * before.p99 + TIMEOUT_MS, `p99 during the hang ${during.p99} ms, normal ${before.p99} ms`);
    assert.ok(open.p50 < TIMEOUT_MS, `once it was known to hang, the median request took ${open.p50} ms`);
    assert.ok(server.records().some((r) => r.message === 'redis not answering; serving without it until it does'));
    assert.ok(server.records().some((r) => r.message === 'redis answering again'));

    await freshRequest(server.url, 'GET', '/api/v1/tasks?limit=3', token);
    const cached = await Promise.all([1, 2, 3, 4].map(() => freshRequest(server.url, 'GET', '/api/v1/tasks?limit=3', token)));
    assert.ok(cached.some((r) => r.headers['x-cache'] === 'HIT'), 'the shared cache is used again');
  });

  test('while it hangs, the per-host insurance limit holds across both workers', async () => {
    redis ??= await startRedis();
    const server = await startServerProcess({ env: { REDIS_URL: redis.url, REDIS_COMMAND_TIMEOUT_MS: String(TIMEOUT_MS), RATE_LIMIT_MAX: '30' } });
    servers.push(server);
    redis.pause();
    try {
      await untilHealth(server.url, 'down');
      const statuses: number[] = [];
      for (let i = 0; i < 31; i++) statuses.push((await freshRequest(server.url, 'GET', '/api/v1/tasks')).status);
      assert.deepEqual(statuses.slice(0, 30), Array(30).fill(401));
      assert.equal(statuses[30], 429);
      const pids = new Set(server.records().filter((r) => r.message === 'request' && r.route === '/api/v1/tasks').map((r) => r.pid));
      assert.equal(pids.size, 2, 'both workers answered');
    } finally {
      redis.resume();
    }
    await untilHealth(server.url, 'up');
  });
});
