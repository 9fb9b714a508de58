import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from '../test-support/app.js';
import { AppError } from '../http/errors.js';
import { createPasswordHasher, type PasswordHasher } from './passwords.js';

type Json = Record<string, any>;

/** countingHasher wraps the app's real bcrypt queue and counts the calls that reach it. */
function countingHasher() {
  const calls = { hash: 0, verify: 0 };
  const wrap = (real: PasswordHasher): PasswordHasher => ({
    assertCapacity: () => real.assertCapacity(),
    hash: (password) => (calls.hash++, real.hash(password)),
    verify: (password, hash) => (calls.verify++, real.verify(password, hash)),
    close: () => real.close(),
  });
  return { calls, wrap };
}

describe('refusals that need no hash come before bcrypt', () => {
  let app: TestApp;
  let admin: { token: string };
  const spy = countingHasher();
  const register = (json: Json, token?: string) => app.api.post('/api/v1/auth/register', { json, ...(token ? { token } : {}) });
  before(async () => {
    app = await startTestApp({ RATE_LIMIT_LOGIN_CONSECUTIVE_FAILS: '2' }, { passwords: spy.wrap });
    admin = await app.api.signUp('user');
    assert.equal((await register({ username: 'taken', email: 'taken@example.com', password: 'secret123' })).status, 201);
  });
  after(() => app.close());

  const refusals: Array<[string, Json, number, string, boolean?]> = [
    ['a taken email, in another case', { username: 'fresh1', email: 'TAKEN@example.com', password: 'secret123' }, 409, 'email_taken'],
    ['a taken username, in another case', { username: 'Taken', email: 'fresh2@example.com', password: 'secret123' }, 409, 'username_taken'],
    ['the admin role, anonymously', { username: 'fresh3', email: 'fresh3@example.com', password: 'secret123', role: 'admin' }, 403, 'admin_role_forbidden'],
    ['the admin role, as a user', { username: 'fresh4', email: 'fresh4@example.com', password: 'secret123', role: 'admin' }, 403, 'admin_role_forbidden', true],
    ['an invalid body', { username: 'x', email: 'fresh5@example.com', password: 'secret123' }, 400, 'validation_failed'],
  ];
  for (const [what, body, status, code, asUser] of refusals) {
    test(`a register request with ${what} is refused without hashing`, async () => {
      const token = asUser ? (await app.api.signUp('user')).token : undefined;
      const before = spy.calls.hash;
      const response = await register(body, token);
      assert.equal(response.status, status);
      assert.equal(response.body.code, code);
      assert.equal(spy.calls.hash, before, 'bcrypt did not run');
    });
  }

  test('an accepted sign-up hashes once (the spy sees what it should)', async () => {
    const before = spy.calls.hash;
    const response = await register({ username: 'second-admin', email: 'admin2@example.com', password: 'secret123', role: 'admin' }, admin.token);
    assert.equal(response.status, 201);
    assert.equal(spy.calls.hash, before + 1);
  });

  test('concurrent sign-ups for one email: one 201, every other 409, one row', async () => {
    const responses = await Promise.all(
      Array.from({ length: 12 }, (_, i) => register({ username: `racer${i}`, email: 'race@example.com', password: 'secret123' })),
    );
    assert.deepEqual(responses.map((r) => r.status).sort(), [201, ...Array<number>(11).fill(409)]);
    assert.equal((app.db.prepare("SELECT count(*) AS n FROM users WHERE email = 'race@example.com'").get() as Json).n, 1);
  });

  test('a blocked account and address gets 429 without a password check', async () => {
    const victim = await app.api.signUp('user');
    const login = (password: string) =>
      app.api.post('/api/v1/auth/login', { json: { email: victim.email, password }, headers: { 'x-forwarded-for': '203.0.113.70' } });
    assert.equal((await login('wrong-password')).status, 401);
    assert.equal((await login('wrong-password')).status, 401);
    const before = spy.calls.verify;
    const blocked = await login('secret123');
    assert.equal(blocked.status, 429);
    assert.ok(Number(blocked.headers.get('retry-after')) > 60);
    assert.equal(spy.calls.verify, before, 'bcrypt did not run');
  });
});

describe('password change guessing', () => {
  let app: TestApp;
  before(async () => (app = await startTestApp({ RATE_LIMIT_LOGIN_CONSECUTIVE_FAILS: '5' })));
  after(() => app.close());

  test('parallel guesses at the current password: at most the limit are checked, then even the right one is 429', async () => {
    const account = await app.api.signUp('user');
    const headers = { 'x-forwarded-for': '203.0.113.80' };
    const change = (currentPassword: string) =>
      app.api.post('/api/v1/auth/password', { token: account.token, headers, json: { currentPassword, newPassword: 'brand-new-pass' } });
    const responses = await Promise.all(Array.from({ length: 30 }, (_, i) => change(`guess-${i}-wrong`)));
    const statuses = responses.map((r) => r.status);
    console.log(`password change burst: ${statuses.filter((s) => s === 403).length} × 403, ${statuses.filter((s) => s === 429).length} × 429`);
    assert.ok(statuses.every((s) => s === 403 || s === 429), String(statuses));
    assert.ok(statuses.filter((s) => s === 403).length <= 5);
    const right = await change('secret123');
    assert.equal(right.status, 429);
    assert.equal(right.body.code, 'rate_limited');
    assert.ok(Number(right.headers.get('retry-after')) > 60);
    assert.equal((await app.api.get('/api/v1/auth/me', { token: account.token })).status, 200, 'nothing was changed');
    const login = (ip: string) => app.api.post('/api/v1/auth/login', { json: { email: account.email, password: 'secret123' }, headers: { 'x-forwarded-for': ip } });
    assert.equal((await login('203.0.113.80')).status, 429, 'the same account protection as login');
    assert.equal((await login('203.0.113.81')).status, 200, 'from another address the owner still logs in');
  });

  test('a right current password resets the count, as a login does', async () => {
    const account = await app.api.signUp('user');
    const headers = { 'x-forwarded-for': '203.0.113.82' };
    let token = account.token;
    let password = 'secret123';
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 4; i++) {
        const wrong = await app.api.post('/api/v1/auth/password', { token, headers, json: { currentPassword: 'not-the-password', newPassword: 'whatever-else' } });
        assert.equal(wrong.status, 403);
      }
      const next = `new-password-${round}`;
      assert.equal((await app.api.post('/api/v1/auth/password', { token, headers, json: { currentPassword: password, newPassword: next } })).status, 204);
      password = next;
      token = (await app.api.post('/api/v1/auth/login', { headers, json: { email: account.email, password } })).body.token;
    }
  });
});

describe('the bcrypt queue bounds its waiting time', () => {
  let app: TestApp;
  const spy = countingHasher();
  // A bound of 1 ms with bcrypt at cost 10 (tens of ms a job): a check that would wait behind another is refused.
  before(async () => (app = await startTestApp({ BCRYPT_ROUNDS: '10', BCRYPT_MAX_WAIT_MS: '1', RATE_LIMIT_LOGIN_CONSECUTIVE_FAILS: '3' }, { passwords: spy.wrap })));
  after(() => app.close());

  test('past the bound a login gets 503 problem+json with Retry-After at once; a refused check costs no login point', async () => {
    const account = await app.api.signUp('user');
    const ip = '203.0.113.90';
    const login = (password: string) => app.api.post('/api/v1/auth/login', { json: { email: account.email, password }, headers: { 'x-forwarded-for': ip } });
    const burst = await Promise.all(Array.from({ length: 3 }, () => login('wrong-password')));
    const statuses = burst.map((r) => r.status);
    console.log(`queue bound burst: ${JSON.stringify(statuses)}`);
    assert.ok(statuses.every((s) => s === 401 || s === 503), String(statuses));
    const refused = burst.filter((r) => r.status === 503);
    assert.ok(refused.length >= 1, 'a check behind another waited past 1 ms');
    for (const response of refused) {
      assert.equal(response.body.code, 'service_unavailable');
      assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assert.ok(Number(response.headers.get('retry-after')) >= 1);
    }
    // Only the checks that ran count: the remaining failures up to the limit are still 401, the next is 429.
    const checked = statuses.filter((s) => s === 401).length;
    for (let i = checked; i < 3; i++) assert.equal((await login('wrong-password')).status, 401, `failure ${i + 1} of 3`);
    assert.equal((await login('secret123')).status, 429);
  });

  test('a sign-up past the bound is 503 and stores nothing', async () => {
    const responses = await Promise.all(
      Array.from({ length: 4 }, (_, i) => app.api.post('/api/v1/auth/register', { json: { username: `flood${i}`, email: `flood${i}@example.com`, password: 'secret123' } })),
    );
    const statuses = responses.map((r) => r.status);
    assert.ok(statuses.includes(503) && statuses.every((s) => s === 201 || s === 503), String(statuses));
    const stored = app.db.prepare("SELECT count(*) AS n FROM users WHERE username LIKE 'flood%'").get() as Json;
    assert.equal(stored.n, statuses.filter((s) => s === 201).length);
  });
});

describe('createPasswordHasher', () => {
  test('before any job has been timed, a job still queued when its bound passes is refused then; later jobs run', async () => {
    // Its first job (the dummy hash, made at once) is still running: no estimate yet, so these queue.
    const hasher = createPasswordHasher({ rounds: 10, maxWaitMs: 20 });
    try {
      const outcomes = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => hasher.hash(`password-${i}`)));
      const refused = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as AppError] : []));
      console.log(`hasher deadline: ${outcomes.length - refused.length} hashed, ${refused.length} refused`);
      assert.ok(refused.length >= 1);
      for (const error of refused) {
        assert.ok(error instanceof AppError);
        assert.equal(error.status, 503);
        assert.ok(Number(error.headers['Retry-After']) >= 1);
      }
      // Nothing stays stuck: once the thread is idle (the dummy hash done), a job runs.
      let hash: string | undefined;
      for (let i = 0; i < 100 && hash === undefined; i++) hash = await hasher.hash('password-0').catch(() => sleep(100).then(() => undefined));
      assert.equal(await hasher.verify('password-0', hash), true, 'an idle queue takes jobs again');
    } finally {
      await hasher.close();
    }
  });
});
