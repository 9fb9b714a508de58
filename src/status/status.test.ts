import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from '../test-support/app.js';
import { sumSamples } from '../test-support/metrics-text.js';
import { METRICS_TOKEN, scrapeMetrics, statusAfter } from '../test-support/status.js';
import { quantileMs } from './report.js';
import { createSampleRing } from './ring.js';
import type { ProcessSample } from './sample.js';

describe('GET /api/v1/status in a process on its own', () => {
  let app: TestApp;
  let admin: { token: string };
  before(async () => {
    app = await startTestApp({ METRICS_TOKEN, RATE_LIMIT_MAX: '60' });
    admin = await app.api.signUp('admin');
  });
  after(() => app.close());

  test('numbers agree with /metrics after known traffic: requests per route, 429s, cache hits and misses', async () => {
    const user = await app.api.signUp('user');
    const statuses: Record<number, number> = {};
    for (let i = 0; i < 80; i++) {
      const response = await app.api.get(i % 10 === 0 ? '/api/v1/tasks/999999' : '/api/v1/tasks', { token: user.token });
      statuses[response.status] = (statuses[response.status] ?? 0) + 1;
    }
    assert.ok((statuses[429] ?? 0) > 0 && (statuses[200] ?? 0) > 0, JSON.stringify(statuses));
    const status = await statusAfter(app.api, admin.token, Date.now());
    const text = await scrapeMetrics(app.url);

    assert.equal(status.mode, 'standalone');
    assert.equal(status.primary, null);
    assert.deepEqual(status.workers.map((w) => w.pid), [process.pid]);
    const tasks = status.routes.find((r) => r.method === 'GET' && r.route === '/api/v1/tasks');
    assert.ok(tasks, JSON.stringify(status.routes));
    assert.equal(tasks.requests, sumSamples(text, 'http_requests_total', { method: 'GET', route: '/api/v1/tasks' }));
    assert.equal(tasks.requests, statuses[200], 'the global limit refuses before routing: its 429s are unmatched');
    assert.equal(status.totals.rateLimited, sumSamples(text, 'http_requests_total', { status: '429' }));
    assert.equal(status.totals.rateLimited, statuses[429]);
    assert.equal(status.totals.cacheHits, sumSamples(text, 'cache_results_total', { result: 'hit' }));
    assert.equal(status.totals.cacheMisses, sumSamples(text, 'cache_results_total', { result: 'miss' }));
    assert.ok(status.totals.cacheHits > 0);
    assert.ok(status.summary.requestsPerSecond > 0);
    assert.ok(status.summary.rateLimitedPerSecond > 0);
    assert.ok(status.summary.p50Ms !== null && status.summary.p99Ms !== null && status.summary.p50Ms <= status.summary.p99Ms);
    assert.equal(status.redis.state, 'disabled');
    assert.ok(status.database.fileBytes > 0);
    assert.ok(status.memory.rssBytes > 0 && status.workers[0]!.rssBytes === status.memory.rssBytes);
    assert.ok(status.history.length >= 1);
    for (const route of status.routes) assert.equal(route.history.requestsPerSecond.length, status.history.length);
  });

  test('the status requests are not rate limited, so the view keeps working while others get 429', async () => {
    let limited = 0;
    for (let i = 0; i < 80 && limited !== 429; i++) limited = (await app.api.get('/api/v1/tasks', { token: admin.token })).status;
    assert.equal(limited, 429);
    const responses = await Promise.all(Array.from({ length: 80 }, () => app.api.get('/api/v1/status', { token: admin.token })));
    assert.deepEqual([...new Set(responses.map((r) => r.status))], [200]);
    assert.equal(responses[0]!.headers.get('cache-control'), 'no-store');
  });

  test('it takes no parameters: any query is a 400 naming it', async () => {
    for (const query of ['window=999999', 'routes=-1', 'x=%00', `${'a'.repeat(2000)}=1`]) {
      const response = await app.api.get(`/api/v1/status?${query}`, { token: admin.token });
      assert.equal(response.status, 400, query);
      assert.equal(response.body.code, 'validation_failed');
    }
  });
});

describe('status sampling', () => {
  const sample = (pid: number, startedAt: number, count: number, buckets: number[]): ProcessSample => ({
    pid,
    startedAt,
    rssBytes: 100,
    heapUsedBytes: 10,
    redis: 'disabled',
    cacheHits: count,
    cacheMisses: 0,
    bounds: [0.001, 0.01, 0.1],
    routes: { 'GET /api/v1/tasks': { count, serverErrors: 0, rateLimited: 0, buckets } },
  });

  test('quantileMs interpolates inside the bucket the rank falls in, as histogram_quantile does', () => {
    const bounds = [0.001, 0.01, 0.1];
    assert.equal(quantileMs(0.5, bounds, [0, 0, 0, 0]), null);
    assert.equal(quantileMs(0.5, bounds, [50, 100, 100, 100]), 1);
    assert.equal(quantileMs(0.5, bounds, [0, 100, 100, 100]), 5.5);
    assert.equal(quantileMs(0.99, bounds, [0, 0, 0, 10]), 100, 'beyond the last bound: that bound');
  });

  test('a worker replaced under the same counters, or one that missed a tick, never makes a rate negative or loses requests', () => {
    const ring = createSampleRing(3, 0);
    ring.record(2000, [sample(10, 0, 100, [0, 100, 100, 100]), sample(11, 0, 50, [0, 50, 50, 50])], [10, 11], { dbBytes: 1, walBytes: 0, primaryRssBytes: 5, restarts: 0 });
    // 11 died and came back as 12 (counters from zero); 10 missed this tick.
    ring.record(4000, [sample(12, 3000, 20, [0, 20, 20, 20])], [10, 12], { dbBytes: 1, walBytes: 0, primaryRssBytes: 5, restarts: 1 });
    ring.record(6000, [sample(10, 0, 130, [0, 130, 130, 130]), sample(12, 3000, 30, [0, 30, 30, 30])], [10, 12], { dbBytes: 1, walBytes: 0, primaryRssBytes: 5, restarts: 1 });
    ring.record(8000, [sample(10, 0, 130, [0, 130, 130, 130]), sample(12, 3000, 30, [0, 30, 30, 30])], [10, 12], { dbBytes: 1, walBytes: 0, primaryRssBytes: 5, restarts: 1 });
    const counts = ring.intervals().map((i) => i.routes.get('GET /api/v1/tasks')?.count ?? 0);
    assert.deepEqual(counts, [20, 40, 0], 'three intervals kept; 30 + 10 at the third tick');
    assert.deepEqual(ring.latest().map((s) => s.pid).sort(), [10, 12]);
    assert.deepEqual(ring.intervals().map((i) => i.rssBytes), [205, 205, 205], 'a worker that missed a tick keeps its last memory');
  });
});
