import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { ApiClient, type ApiResponse } from '../test-support/client.js';
import { startServerProcess, type ServerProcess } from '../test-support/process.js';
import { redisMissing, startRedis, type RedisServer } from '../test-support/redis.js';

const CONSECUTIVE = 5;
const PER_IP_PER_DAY = 20;
const BURST = 60;

const skipRedis = redisMissing();

/** tally counts the statuses of a burst. */
const tally = (responses: readonly ApiResponse[]) =>
  responses.reduce<Record<number, number>>((counts, r) => ((counts[r.status] = (counts[r.status] ?? 0) + 1), counts), {});

function assertLimited(response: ApiResponse, minRetryAfter: number): void {
  assert.equal(response.status, 429);
  assert.equal(response.body.code, 'rate_limited');
  assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.ok(Number(response.headers.get('retry-after')) >= minRetryAfter, `Retry-After ${response.headers.get('retry-after')}`);
}

// Each guess comes in on a connection of its own, fired at once, so both workers get a share.
for (const backend of ['no Redis', 'Redis up', 'Redis down'] as const) {
  describe(`password guessing in parallel on 2 workers (${backend})`, { skip: backend === 'no Redis' ? false : (skipRedis ?? false) }, () => {
    let redis: RedisServer | undefined;
    let server: ServerProcess;
    let api: ApiClient;
    const victim = { username: 'victim', email: 'victim@example.com', password: 'secret123' };
    const login = (email: string, password: string, ip: string, requestId?: string) =>
      api.post('/api/v1/auth/login', { json: { email, password }, headers: { 'x-forwarded-for': ip, ...(requestId ? { 'x-request-id': requestId } : {}) } });
    /** workersOf names the pids that answered the requests whose ids start with prefix. */
    const workersOf = (prefix: string) =>
      new Set(server.records().filter((r) => r.message === 'request' && String(r.requestId).startsWith(prefix)).map((r) => r.pid));

    before(async () => {
      if (backend !== 'no Redis') redis = await startRedis();
      server = await startServerProcess({
        env: {
          RATE_LIMIT_LOGIN_CONSECUTIVE_FAILS: String(CONSECUTIVE),
          RATE_LIMIT_LOGIN_FAILS_PER_IP_PER_DAY: String(PER_IP_PER_DAY),
          RATE_LIMIT_LOGIN_BLOCK_SECONDS: '3600',
          ...(redis ? { REDIS_URL: redis.url } : {}),
        },
      });
      api = new ApiClient(server.url);
      assert.equal((await api.post('/api/v1/auth/register', { json: victim })).status, 201);
      if (backend === 'Redis down') {
        await redis!.kill();
        for (let i = 0; i < 50 && (await api.get('/health')).body.checks.redis !== 'down'; i++) await sleep(100);
        assert.equal((await api.get('/health')).body.checks.redis, 'down');
      }
    });
    after(async () => {
      server.kill('SIGKILL');
      await server.exited;
      await redis?.stop();
    });

    test(`${BURST} parallel logins for one account from one address: at most ${CONSECUTIVE} reach bcrypt, the right password in the middle and after is 429`, async () => {
      const ip = '203.0.113.50';
      const middle = 45;
      const responses = await Promise.all(
        Array.from({ length: BURST }, (_, i) => login(victim.email, i === middle ? victim.password : `wrong-guess-${i}`, ip, `pair-${i}`)),
      );
      const counts = tally(responses);
      console.log(`${backend}: account burst ${JSON.stringify(counts)}, answered by ${workersOf('pair-').size} workers`);
      assert.equal(workersOf('pair-').size, 2, 'both workers took guesses');
      assert.deepEqual(Object.keys(counts).sort(), ['401', '429']);
      assert.ok((counts[401] ?? 0) <= CONSECUTIVE, `${counts[401]} guesses were checked`);
      for (const response of responses.filter((r) => r.status === 429)) assertLimited(response, 1);
      assertLimited(responses[middle]!, 1);
      assertLimited(await login(victim.email, victim.password, ip), 60);
      assert.equal((await login(victim.email, victim.password, '203.0.113.51')).status, 200, 'the owner logs in from elsewhere');
    });

    test(`${BURST} parallel logins for different accounts from one address: at most ${PER_IP_PER_DAY} reach bcrypt, then the address is refused`, async () => {
      const ip = '203.0.113.60';
      const responses = await Promise.all(Array.from({ length: BURST }, (_, i) => login(`nobody${i}@example.com`, 'wrong-password', ip, `ip-${i}`)));
      const counts = tally(responses);
      console.log(`${backend}: address burst ${JSON.stringify(counts)}, answered by ${workersOf('ip-').size} workers`);
      assert.equal(workersOf('ip-').size, 2, 'both workers took guesses');
      assert.deepEqual(Object.keys(counts).sort(), ['401', '429']);
      assert.ok((counts[401] ?? 0) <= PER_IP_PER_DAY, `${counts[401]} guesses were checked`);
      assertLimited(await login(victim.email, victim.password, ip), 60);
    });

    test('parallel guesses at the current password with a stolen token count against the same account protection', async () => {
      const ip = '203.0.113.70';
      const token = (await login(victim.email, victim.password, '203.0.113.71')).body.token as string;
      const change = (currentPassword: string, requestId: string) =>
        api.post('/api/v1/auth/password', { token, json: { currentPassword, newPassword: 'taken-over-1' }, headers: { 'x-forwarded-for': ip, 'x-request-id': requestId } });
      const responses = await Promise.all(Array.from({ length: 30 }, (_, i) => change(`wrong-guess-${i}`, `change-${i}`)));
      const counts = tally(responses);
      console.log(`${backend}: password change burst ${JSON.stringify(counts)}`);
      assert.deepEqual(Object.keys(counts).sort(), ['403', '429']);
      assert.ok((counts[403] ?? 0) <= CONSECUTIVE, `${counts[403]} guesses were checked`);
      assertLimited(await change(victim.password, 'change-right'), 60);
      assertLimited(await login(victim.email, victim.password, ip), 60);
      assert.equal((await api.get('/api/v1/auth/me', { token })).status, 200, 'the password was not changed');
    });

    if (backend === 'Redis up') {
      test('the counts live in Redis, shared beyond this host', async () => {
        const client = new Redis(redis!.url, { lazyConnect: true });
        try {
          await client.connect();
          assert.ok((await client.keys('login:account-ip*')).length >= 1);
          assert.ok((await client.keys('login:ip*')).length >= 1);
        } finally {
          client.disconnect();
        }
      });
    }
  });
}
