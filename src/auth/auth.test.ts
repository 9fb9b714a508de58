import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from '../test-support/app.js';

type Json = Record<string, any>;

describe('accounts and login', () => {
  let app: TestApp;
  let admin: { token: string; id: number; role: string };
  const users = () => app.db.prepare('SELECT * FROM users ORDER BY id').all() as Json[];
  const register = (json: Json, token?: string) => app.api.post('/api/v1/auth/register', { json, ...(token ? { token } : {}) });
  const login = (email: string, password: string) => app.api.post('/api/v1/auth/login', { json: { email, password } });

  before(async () => {
    app = await startTestApp();
    admin = await app.api.signUp('user');
  });
  after(() => app.close());

  test('makes the first account of an empty database an administrator, whatever it asked for', () => {
    assert.equal(admin.role, 'admin');
    assert.deepEqual(users().map((u) => u.role), ['admin']);
  });

  test('registers an account and never returns its hash or token version', async () => {
    const response = await register({ username: 'alice', email: 'alice@example.com', password: 'secret123' });
    assert.equal(response.status, 201);
    assert.equal(response.body.role, 'user');
    assert.equal(response.headers.get('location'), `/api/v1/users/${response.body.id}`);
    assert.deepEqual(Object.keys(response.body).sort(), ['createdAt', 'email', 'id', 'role', 'updatedAt', 'username']);
    assert.doesNotMatch(response.text, /\$2[aby]\$|secret123|token_version|password/);
    const row = users().find((u) => u.username === 'alice')!;
    assert.match(row.password_hash, /^\$2[ab]\$04\$/);
  });

  test('usernames are 3 to 32 characters of letters, digits, "_", "." and "-"', async () => {
    const count = users().length;
    for (const username of ['ab', 'a'.repeat(33), 'has space', 'semi;colon', 'ünïcode', 'slash/name', '']) {
      const response = await register({ username, email: `${Math.random()}@example.com`, password: 'secret123' });
      assert.equal(response.status, 400, username);
      assert.equal(response.body.errors[0].pointer, '/username');
    }
    assert.equal(users().length, count, 'nothing stored');
    for (const username of ['abc', 'a'.repeat(32), 'x_y.z-1']) {
      assert.equal((await register({ username, email: `${username}@example.com`, password: 'secret123' })).status, 201, username);
    }
  });

  test('emails must be addresses', async () => {
    const response = await register({ username: 'mailer', email: 'not-an-email', password: 'secret123' });
    assert.deepEqual(response.body.errors, [{ in: 'body', pointer: '/email', message: 'must match format "email"' }]);
    for (const email of ['a@', '@example.com', 'two@@example.com', 'spa ce@example.com', `${'a'.repeat(250)}@example.com`]) {
      const refused = await register({ username: 'mailer', email, password: 'secret123' });
      assert.equal(refused.status, 400, email);
      assert.equal(refused.body.errors[0].pointer, '/email', email);
    }
    assert.equal(users().filter((u) => u.username === 'mailer').length, 0);
  });

  test('lists every problem of a register request at once', async () => {
    const response = await register({ username: 'x', email: 'nope', password: 'short', role: 'root', extra: true });
    assert.deepEqual(
      response.body.errors.map((e: Json) => e.pointer).sort(),
      ['/email', '/extra', '/password', '/role', '/username'],
    );
  });

  test('passwords are 8 characters to 72 bytes, counted in bytes', async () => {
    const attempt = (username: string, password: string) => register({ username, email: `${username}@example.com`, password });
    assert.equal((await attempt('short', 'seven77')).status, 400);
    const tooMany = await attempt('multibyte', '€'.repeat(30));
    assert.equal(tooMany.status, 400, '30 three-byte characters are 90 bytes');
    assert.deepEqual(tooMany.body.errors, [{ in: 'body', pointer: '/password', message: 'must NOT be longer than 72 bytes' }]);
    assert.equal((await attempt('oneover', `${'a'.repeat(71)}é`)).status, 400, '73 bytes');
    assert.equal((await attempt('exactly', `${'a'.repeat(70)}é`)).status, 201, '72 bytes');
    assert.equal((await login('exactly@example.com', `${'a'.repeat(70)}é`)).status, 200);
  });

  test('a taken username or email (in any case) is 409, and nothing is stored', async () => {
    await register({ username: 'bob', email: 'bob@example.com', password: 'secret123' });
    const count = users().length;
    const email = await register({ username: 'bobby', email: 'BOB@example.com', password: 'secret123' });
    assert.equal(email.status, 409);
    assert.equal(email.body.code, 'email_taken');
    const name = await register({ username: 'BOB', email: 'other-bob@example.com', password: 'secret123' });
    assert.equal(name.body.code, 'username_taken');
    assert.equal(users().length, count);
  });

  test('rejects a register request that asks for the admin role, anonymously or as a user', async () => {
    const count = users().length;
    const anonymous = await register({ username: 'mallory', email: 'mallory@example.com', password: 'secret123', role: 'admin' });
    assert.equal(anonymous.status, 403);
    assert.equal(anonymous.body.code, 'admin_role_forbidden');
    const user = await app.api.signUp('user');
    const asUser = await register({ username: 'mallory2', email: 'mallory2@example.com', password: 'secret123', role: 'admin' }, user.token);
    assert.equal(asUser.body.code, 'admin_role_forbidden');
    assert.equal(users().length, count + 1, 'only the user signed up');
    assert.equal(users().filter((u) => String(u.username).startsWith('mallory')).length, 0);
  });

  test('an administrator can create another administrator', async () => {
    const response = await register({ username: 'second-admin', email: 'admin2@example.com', password: 'secret123', role: 'admin' }, admin.token);
    assert.equal(response.status, 201);
    assert.equal(response.body.role, 'admin');
  });

  test('logs in with a bearer token that works', async () => {
    const response = await login('alice@example.com', 'secret123');
    assert.equal(response.status, 200);
    assert.equal(response.body.tokenType, 'Bearer');
    assert.equal(response.body.expiresIn, 3600);
    assert.equal(response.body.user.username, 'alice');
    const me = await app.api.get('/api/v1/auth/me', { token: response.body.token });
    assert.equal(me.body.email, 'alice@example.com');
  });

  test('a wrong password and an unknown email get the same 401', async () => {
    const wrong = await login('alice@example.com', 'wrong-password');
    const unknown = await login('nobody@example.com', 'wrong-password');
    assert.equal(wrong.status, 401);
    const { requestId: _a, ...wrongBody } = wrong.body;
    const { requestId: _b, ...unknownBody } = unknown.body;
    assert.deepEqual(wrongBody, unknownBody);
    assert.equal(wrong.body.code, 'invalid_credentials');
  });

  test('logout revokes every token of the caller, and a new login works', async () => {
    const first = (await login('alice@example.com', 'secret123')).body.token;
    const second = (await login('alice@example.com', 'secret123')).body.token;
    assert.equal((await app.api.post('/api/v1/auth/logout', { token: first })).status, 204);
    for (const token of [first, second]) {
      const response = await app.api.get('/api/v1/auth/me', { token });
      assert.equal(response.status, 401);
      assert.equal(response.body.code, 'token_revoked');
    }
    const fresh = (await login('alice@example.com', 'secret123')).body.token;
    assert.equal((await app.api.get('/api/v1/auth/me', { token: fresh })).status, 200);
    assert.equal((await app.api.get('/api/v1/auth/me', { token: admin.token })).status, 200, "another account's token still works");
  });

  test('a password change revokes old tokens and the old password', async () => {
    const account = await app.api.signUp('user');
    const wrong = await app.api.post('/api/v1/auth/password', { token: account.token, json: { currentPassword: 'not-it-at-all', newPassword: 'brand-new-pass' } });
    assert.equal(wrong.status, 403);
    assert.equal(wrong.body.code, 'wrong_password');
    assert.equal((await app.api.get('/api/v1/auth/me', { token: account.token })).status, 200, 'a refused change revokes nothing');
    assert.equal((await login(account.email, 'brand-new-pass')).status, 401);
    const changed = await app.api.post('/api/v1/auth/password', { token: account.token, json: { currentPassword: 'secret123', newPassword: 'brand-new-pass' } });
    assert.equal(changed.status, 204);
    assert.equal((await app.api.get('/api/v1/auth/me', { token: account.token })).body.code, 'token_revoked');
    assert.equal((await login(account.email, 'secret123')).status, 401);
    assert.equal((await login(account.email, 'brand-new-pass')).status, 200);
  });

  test("a role change revokes that account's tokens; the last admin cannot be demoted", async () => {
    const fresh = await startTestApp();
    try {
      const owner = await fresh.api.signUp('user');
      const member = await fresh.api.signUp('user');
      const promoted = await fresh.api.patch(`/api/v1/users/${member.id}`, { token: owner.token, json: { role: 'admin' } });
      assert.equal(promoted.body.role, 'admin');
      assert.equal((await fresh.api.get('/api/v1/auth/me', { token: member.token })).body.code, 'token_revoked');
      const relogged = (await fresh.api.post('/api/v1/auth/login', { json: { email: member.email, password: 'secret123' } })).body.token;
      assert.equal((await fresh.api.patch(`/api/v1/users/${owner.id}`, { token: relogged, json: { role: 'user' } })).status, 200);
      const last = await fresh.api.patch(`/api/v1/users/${member.id}`, { token: relogged, json: { role: 'user' } });
      assert.equal(last.status, 409);
      assert.equal(last.body.code, 'last_admin');
      assert.equal((await fresh.api.patch('/api/v1/users/9999', { token: relogged, json: { role: 'user' } })).status, 404);
    } finally {
      await fresh.close();
    }
  });

  test('lists accounts a page at a time', async () => {
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const page: Json = await app.api.get(`/api/v1/users?limit=3${cursor ? `&cursor=${cursor}` : ''}`, { token: admin.token });
      assert.equal(page.status, 200);
      seen.push(...page.body.data.map((u: Json) => u.id));
      cursor = page.body.page.nextCursor;
    } while (cursor);
    assert.deepEqual(seen, users().map((u) => u.id));
    assert.ok(seen.length > 6, `${seen.length} accounts on several pages`);
  });

  test('a cursor that was not issued by the account list is 400 invalid_cursor', async () => {
    const tasks = await app.api.post('/api/v1/tasks', { token: admin.token, json: { title: 'a' } });
    await app.api.post('/api/v1/tasks', { token: admin.token, json: { title: 'b' } });
    assert.equal(tasks.status, 201);
    const taskCursor = (await app.api.get('/api/v1/tasks?limit=1', { token: admin.token })).body.page.nextCursor as string;
    const forged = Buffer.from(JSON.stringify(['id', 'not-a-number', 1])).toString('base64url');
    for (const cursor of ['abc', taskCursor, forged]) {
      const response = await app.api.get(`/api/v1/users?cursor=${cursor}`, { token: admin.token });
      assert.equal(response.status, 400, cursor);
      assert.equal(response.body.code, 'invalid_cursor', cursor);
    }
  });
});

describe('login timing', () => {
  let app: TestApp;
  before(async () => (app = await startTestApp({ BCRYPT_ROUNDS: '8' })));
  after(() => app.close());

  test('an unknown email takes as long as a wrong password (a dummy hash is compared)', async () => {
    const account = await app.api.signUp('user');
    const time = async (email: string) => {
      const started = process.hrtime.bigint();
      const response = await app.api.post('/api/v1/auth/login', { json: { email, password: 'wrong-password' } });
      assert.equal(response.status, 401);
      return Number(process.hrtime.bigint() - started) / 1e6;
    };
    const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 7; i++) {
      known.push(await time(account.email));
      unknown.push(await time(`nobody${i}@example.com`));
    }
    console.log(`login timing: wrong password ${median(known).toFixed(1)} ms, unknown email ${median(unknown).toFixed(1)} ms (medians of 7)`);
    assert.ok(median(unknown) >= 0.5 * median(known));
  });
});
