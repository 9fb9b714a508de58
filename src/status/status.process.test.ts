import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import { ApiClient } from '../test-support/client.js';
import { runLoad } from '../test-support/load.js';
import { sumSamples } from '../test-support/metrics-text.js';
import { startServerProcess, type ServerProcess } from '../test-support/process.js';
import { redisMissing, startRedis } from '../test-support/redis.js';
import { METRICS_TOKEN, oneConnection, scrapeMetrics, statusAfter } from '../test-support/status.js';
import type { StatusReport } from './report.js';

const listeningPids = (server: ServerProcess) => server.records().filter((r) => r.message === 'listening').map((r) => r.pid as number);

/** assertRoutesAgree checks every route of the report against /metrics, but the two that the checking itself calls. */
function assertRoutesAgree(status: StatusReport, text: string): void {
  for (const route of status.routes.filter((r) => !['/api/v1/status', '/metrics'].includes(r.route))) {
    const counted = sumSamples(text, 'http_requests_total', { method: route.method, route: route.route });
    assert.equal(route.requests, counted, `${route.method} ${route.route}`);
    assert.equal(route.rateLimited, sumSamples(text, 'http_requests_total', { method: route.method, route: route.route, status: '429' }));
  }
  assert.equal(status.totals.rateLimited, sumSamples(text, 'http_requests_total', { status: '429' }));
  assert.equal(status.totals.serverErrors, 0);
  assert.equal(status.totals.cacheHits, sumSamples(text, 'cache_results_total', { result: 'hit' }));
  assert.equal(status.totals.cacheMisses, sumSamples(text, 'cache_results_total', { result: 'miss' }));
  assert.equal(status.restarts, sumSamples(text, 'worker_restarts_total'));
}

describe('GET /api/v1/status across cluster workers', () => {
  const servers: ServerProcess[] = [];
  after(() => servers.forEach((s) => s.kill('SIGKILL')));

  test('after known traffic across 2 workers the numbers agree with /metrics; a killed worker is counted as a restart and leaves the totals as /metrics does', async () => {
    const server = await startServerProcess({ env: { METRICS_TOKEN, WORKERS: '2', RATE_LIMIT_MAX: '1500' } });
    servers.push(server);
    const api = new ApiClient(server.url);
    const admin = await api.signUp('admin');
    const user = await api.signUp('user');
    for (const token of [undefined, user.token]) {
      const refused = await api.get('/api/v1/status', token ? { token } : {});
      assert.equal(refused.status, token ? 403 : 401);
    }

    const load = await runLoad({
      baseUrl: server.url,
      concurrency: 8,
      total: 2000,
      next: (i) => ({ method: 'GET', path: i % 5 === 0 ? `/api/v1/tasks/${i + 1}` : '/api/v1/tasks', token: user.token }),
    });
    const loadEnded = Date.now();
    console.log(`status load: ${JSON.stringify(load.statuses)} in ${load.durationMs} ms`);
    assert.ok((load.statuses[429] ?? 0) > 0 && (load.statuses[200] ?? 0) > 0 && (load.statuses[404] ?? 0) > 0, JSON.stringify(load.statuses));
    assert.equal(load.failures.length, 0);

    const status = await statusAfter(api, admin.token, loadEnded);
    const text = await scrapeMetrics(server.url);
    const pids = listeningPids(server);
    assert.equal(status.mode, 'cluster');
    assert.equal(status.primary?.pid, server.child.pid);
    assert.deepEqual(status.workers.map((w) => w.pid).sort(), [...pids].sort(), 'every worker, and only the workers');
    assert.ok(status.workers.every((w) => w.requestsPerSecond > 0 && w.rssBytes > 0 && w.uptimeSeconds >= 0), JSON.stringify(status.workers));
    assertRoutesAgree(status, text);
    assert.equal(status.totals.rateLimited, load.statuses[429]);
    const tasks = status.routes.find((r) => r.route === '/api/v1/tasks');
    assert.equal(tasks?.requests, load.statuses[200], 'the 429s of the global limit come before routing');
    assert.equal(status.routes[0]?.route, '/api/v1/tasks', 'the busiest route first');
    assert.ok(status.summary.requestsPerSecond > 0 && status.summary.rateLimitedPerSecond > 0);
    const perSecond = status.history.reduce((n, p) => n + p.requestsPerSecond, 0);
    assert.ok(perSecond > 0);
    assert.ok(status.database.fileBytes > 0);
    assert.ok(status.memory.rssBytes > status.workers.reduce((n, w) => n + w.rssBytes, 0), 'the primary counts too');
    console.log(`status: ${status.history.length} points, summary ${JSON.stringify(status.summary)}, workers ${JSON.stringify(status.workers.map((w) => [w.pid, w.requestsPerSecond]))}`);

    const [victim] = pids;
    process.kill(victim as number, 'SIGKILL');
    const replacement = await server.waitFor((r) => r.message === 'listening' && !pids.includes(r.pid as number), 15_000);
    const after = await statusAfter(api, admin.token, Date.now());
    assert.deepEqual(after.workers.map((w) => w.pid).sort(), [pids[1], replacement.pid].sort());
    assert.equal(after.restarts, 1);
    const afterText = await scrapeMetrics(server.url);
    assertRoutesAgree(after, afterText);
    assert.ok(after.totals.requests < status.totals.requests, 'the dead worker took its counts away, as from /metrics');
    server.kill('SIGTERM');
    assert.equal((await server.exited).code, 0);
  });

  test('a hung worker (SIGSTOP) does not stall the sampling: the view goes on from the other worker, which lists it with its last sample', async () => {
    const server = await startServerProcess({ env: { WORKERS: '2' } });
    servers.push(server);
    const api = new ApiClient(server.url);
    const admin = await api.signUp('admin');
    // Both workers have answered a sample before one stops (a worker is listed from its first sample on).
    let seen = await statusAfter(api, admin.token, Date.now());
    for (let i = 0; i < 20 && seen.workers.length < 2; i++) seen = await statusAfter(api, admin.token, Date.now());
    assert.equal(seen.workers.length, 2);
    const [stopped] = listeningPids(server);
    process.kill(stopped as number, 'SIGSTOP');
    try {
      const stoppedAt = Date.now();
      // New connections may be handed to the stopped worker: ask over several at once, and take an answer sampled since the stop.
      const ask = async () => {
        const response = await fetch(`${server.url}/api/v1/status`, { headers: { authorization: `Bearer ${admin.token}`, connection: 'close' }, signal: AbortSignal.timeout(4000) });
        const status = (await response.json()) as StatusReport;
        if (Date.parse(status.sampledAt ?? '0') <= stoppedAt + 2500) throw new Error('not sampled since the stop yet');
        return status;
      };
      let answer: StatusReport | undefined;
      while (!answer && Date.now() < stoppedAt + 20_000) {
        answer = await Promise.any(Array.from({ length: 6 }, ask)).catch(() => undefined);
        if (!answer) await sleep(250);
      }
      assert.ok(answer, 'the other worker answered with a fresh sample');
      assert.deepEqual(answer.workers.map((w) => w.pid).sort(), listeningPids(server).sort(), 'the stopped worker is still listed, with its last sample');
    } finally {
      process.kill(stopped as number, 'SIGCONT');
    }
    const woke = Date.now();
    const after = await statusAfter(api, admin.token, woke + 2500);
    assert.equal(after.workers.length, 2);
    assert.equal(after.restarts, 0);
    server.kill('SIGTERM');
    assert.equal((await server.exited).code, 0);
  });

  test('Redis is up in every worker, down in every worker once killed, and up again when it is back', { skip: redisMissing() ?? false }, async () => {
    const redis = await startRedis();
    try {
      const server = await startServerProcess({ env: { WORKERS: '2', REDIS_URL: redis.url } });
      servers.push(server);
      const api = new ApiClient(server.url);
      const admin = await api.signUp('admin');
      const redisOf = async () => (await statusAfter(api, admin.token, Date.now())).redis;
      assert.deepEqual(await redisOf(), { state: 'up', connected: 2, processes: 2 });
      await redis.kill();
      assert.deepEqual(await redisOf(), { state: 'down', connected: 0, processes: 2 });
      await redis.start();
      let back = await redisOf();
      for (let i = 0; i < 20 && back.connected < 2; i++) back = await redisOf();
      assert.deepEqual(back, { state: 'up', connected: 2, processes: 2 });
      server.kill('SIGTERM');
      assert.equal((await server.exited).code, 0);
    } finally {
      await redis.kill();
    }
  });

  test('while the primary does not answer (SIGSTOP), the operation is a 503 problem with Retry-After, not a hang', async () => {
    const server = await startServerProcess({ env: { WORKERS: '1' } });
    servers.push(server);
    const api = new ApiClient(server.url);
    const admin = await api.signUp('admin');
    // The primary hands out new connections: this one is open before it stops.
    const instance = oneConnection(server.url);
    try {
      assert.equal((await instance.get('/api/v1/status', admin.token)).status, 200);
      server.kill('SIGSTOP');
      const asked = Date.now();
      let refused;
      try {
        refused = await instance.get('/api/v1/status', admin.token);
      } finally {
        server.kill('SIGCONT');
      }
      const waitedMs = Date.now() - asked;
      assert.equal(refused.status, 503, refused.text);
      assert.equal(refused.body.code, 'service_unavailable');
      assert.equal(refused.headers['retry-after'], '1');
      assert.ok(waitedMs < 10_000, `answered after ${waitedMs} ms`);
      await sleep(100);
      assert.equal((await instance.get('/api/v1/status', admin.token)).status, 200, 'and it answers again once the primary is back');
    } finally {
      instance.close();
    }
    server.kill('SIGTERM');
    assert.equal((await server.exited).code, 0);
  });
});
