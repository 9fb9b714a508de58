import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from '../test-support/app.js';
import { redisMissing, startRedis, type RedisServer } from '../test-support/redis.js';

const skipRedis = redisMissing();

for (const backend of ['embedded', 'redis'] as const) {
  describe(`global rate limit (${backend})`, { skip: backend === 'redis' ? (skipRedis ?? false) : false }, () => {
    let app: TestApp;
    let redis: RedisServer | undefined;
    before(async () => {
      if (backend === 'redis') redis = await startRedis();
      app = await startTestApp({ RATE_LIMIT_MAX: '5', RATE_LIMIT_WINDOW_SECONDS: '60', ...(redis ? { REDIS_URL: redis.url } : {}) });
    });
    after(async () => {
      await app.close();
      await redis?.stop();
    });

    test('request N+1 from one client is 429 rate_limited with Retry-After and RateLimit fields', async () => {
      const headers = { 'x-forwarded-for': '203.0.113.10' };
      const seen: Array<string | null> = [];
      for (let i = 0; i < 5; i++) {
        const ok = await app.api.get('/api/v1/tasks', { headers });
        assert.equal(ok.status, 401);
        seen.push(ok.headers.get('ratelimit'));
      }
      assert.equal(seen[0], '"default";r=4;t=60');
      assert.match(seen[4] ?? '', /^"default";r=0;t=\d+$/);
      const limited = await app.api.get('/api/v1/tasks', { headers });
      assert.equal(limited.status, 429);
      assert.equal(limited.body.code, 'rate_limited');
      assert.ok(Number(limited.headers.get('retry-after')) >= 1);
      assert.equal(limited.headers.get('ratelimit-policy'), '"default";q=5;w=60');
    });

    test('another client (behind the trusted loopback proxy) has its own count', async () => {
      const other = await app.api.get('/api/v1/tasks', { headers: { 'x-forwarded-for': '203.0.113.11' } });
      assert.equal(other.status, 401);
    });

    test('health and readiness probes are never limited', async () => {
      for (let i = 0; i < 8; i++) {
        assert.equal((await app.api.get('/health', { headers: { 'x-forwarded-for': '203.0.113.10' } })).status, 200);
      }
    });
  });
}

describe('client address from an untrusted peer', () => {
  let app: TestApp;
  // Loopback is not a trusted proxy here, so X-Forwarded-For must be ignored.
  before(async () => (app = await startTestApp({ RATE_LIMIT_MAX: '3', TRUST_PROXY: '192.0.2.1' })));
  after(() => app.close());

  test('a spoofed X-Forwarded-For does not buy a fresh limit', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push((await app.api.get('/api/v1/tasks', { headers: { 'x-forwarded-for': `198.51.100.${i}` } })).status);
    }
    assert.deepEqual(statuses, [401, 401, 401, 429]);
  });
});

describe('login brute-force protection', () => {
  let app: TestApp;
  before(async () => (app = await startTestApp({ RATE_LIMIT_LOGIN_CONSECUTIVE_FAILS: '3', RATE_LIMIT_LOGIN_FAILS_PER_IP_PER_DAY: '6' })));
  after(() => app.close());
  const login = (email: string, password: string, ip: string) =>
    app.api.post('/api/v1/auth/login', { json: { email, password }, headers: { 'x-forwarded-for': ip } });

  test('consecutive failures for one account and IP block even the right password', async () => {
    const victim = await app.api.signUp('user');
    for (let i = 0; i < 3; i++) assert.equal((await login(victim.email, 'wrong-password', '203.0.113.20')).status, 401);
    const blocked = await login(victim.email, 'secret123', '203.0.113.20');
    assert.equal(blocked.status, 429);
    assert.equal(blocked.body.code, 'rate_limited');
    assert.ok(Number(blocked.headers.get('retry-after')) > 60);
    assert.equal((await login(victim.email, 'secret123', '203.0.113.21')).status, 200, 'another IP is not blocked');
  });

  test('a success resets the consecutive count of that account and IP', async () => {
    const user = await app.api.signUp('user');
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 2; i++) assert.equal((await login(user.email, 'wrong-password', '203.0.113.30')).status, 401);
      assert.equal((await login(user.email, 'secret123', '203.0.113.30')).status, 200);
    }
  });

  test('failures per IP across accounts are limited per day', async () => {
    const ip = '203.0.113.40';
    for (let i = 0; i < 6; i++) assert.equal((await login(`nobody${i}@example.com`, 'wrong-password', ip)).status, 401);
    assert.equal((await login('nobody-else@example.com', 'wrong-password', ip)).status, 429);
  });
});

for (const backend of ['embedded', 'redis'] as const) {
  describe(`login protection ends with its block (${backend})`, { skip: backend === 'redis' ? (skipRedis ?? false) : false }, () => {
    let app: TestApp;
    let redis: RedisServer | undefined;
    before(async () => {
      if (backend === 'redis') redis = await startRedis();
      app = await startTestApp({ RATE_LIMIT_LOGIN_CONSECUTIVE_FAILS: '4', RATE_LIMIT_LOGIN_BLOCK_SECONDS: '2', ...(redis ? { REDIS_URL: redis.url } : {}) });
    });
    after(async () => {
      await app.close();
      await redis?.stop();
    });

    test('after a parallel burst blocks the pair, the right password works once the block is over, and not before', async () => {
      const owner = await app.api.signUp('user');
      const login = (password: string) => app.api.post('/api/v1/auth/login', { json: { email: owner.email, password }, headers: { 'x-forwarded-for': '203.0.113.99' } });
      const statuses = (await Promise.all(Array.from({ length: 30 }, (_, i) => login(`wrong-${i}`)))).map((r) => r.status);
      assert.ok(statuses.filter((s) => s === 401).length <= 4, String(statuses));
      const blocked = await login('secret123');
      assert.equal(blocked.status, 429);
      await sleep(Number(blocked.headers.get('retry-after')) * 1000 + 300);
      assert.equal((await login('secret123')).status, 200, 'no store was left at the limit to start a block of its own');
    });

    if (backend === 'redis') {
      test('stores that counted different guesses (one missed some while Redis was down) end the block together', async () => {
        const owner = await app.api.signUp('user');
        const login = (password: string) => app.api.post('/api/v1/auth/login', { json: { email: owner.email, password }, headers: { 'x-forwarded-for': '203.0.113.98' } });
        const redisState = async (state: string) => {
          for (let i = 0; i < 100 && (await app.api.get('/health')).body.checks.redis !== state; i++) await sleep(100);
          assert.equal((await app.api.get('/health')).body.checks.redis, state);
        };
        await redis!.kill();
        await redisState('down');
        assert.equal((await login('wrong-0')).status, 401, 'counted here only');
        await redis!.start();
        await redisState('up');
        for (let i = 1; i < 4; i++) assert.equal((await login(`wrong-${i}`)).status, 401, 'counted in both');
        // Here 5 > 4, Redis 4: without aligning, Redis stays at its limit and blocks the next try after this block.
        const blocked = await login('wrong-4');
        assert.equal(blocked.status, 429);
        await sleep(Number(blocked.headers.get('retry-after')) * 1000 + 300);
        assert.equal((await login('secret123')).status, 200);
      });
    }
  });
}
