import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openDatabase } from '../db/database.js';
import { migrate } from '../db/migrations.js';
import { createWriter } from '../db/write.js';
import { createLogger } from '../logging/logger.js';
import { startTestApp, type TestApp } from '../test-support/app.js';
import { testSpec } from '../test-support/contract.js';
import { createKeyedWrites } from './keyed-writes.js';
import { createIdempotencyStore } from './store.js';

type Json = Record<string, any>;

describe('Idempotency-Key on writes', () => {
  let app: TestApp;
  let admin: { token: string; id: number };
  let key = 0;
  const nextKey = () => `"test-${process.pid}-${++key}"`;
  const count = (table: string) => (app.db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  const post = (path: string, json: unknown, headers: Record<string, string>, token = admin.token) => app.api.post(path, { token, json, headers });

  before(async () => {
    app = await startTestApp();
    admin = await app.api.signUp('admin');
  });
  after(() => app.close());

  test('every write but login declares the header, with 422 for a reused key', () => {
    const keyed = testSpec.operations.filter((op) => op.parameters.some((p) => p.in === 'header' && p.name === 'Idempotency-Key'));
    const writes = testSpec.operations.filter((op) => op.method !== 'get' && op.id !== 'loginUser');
    assert.deepEqual(keyed.map((op) => op.id).sort(), writes.map((op) => op.id).sort());
    for (const op of keyed) assert.ok(op.responses['422'], `${op.id} declares 422`);
  });

  test('a retry with the same key and request replays the first answer and writes nothing', async () => {
    const headers = { 'idempotency-key': nextKey() };
    const tasks = count('tasks');
    const first = await post('/api/v1/tasks', { title: 'once' }, headers);
    assert.equal(first.status, 201);
    assert.equal(first.headers.get('idempotent-replayed'), null);
    for (let i = 0; i < 3; i++) {
      const again = await post('/api/v1/tasks', { title: 'once' }, headers);
      assert.equal(again.status, 201);
      assert.equal(again.headers.get('idempotent-replayed'), 'true');
      assert.equal(again.headers.get('location'), first.headers.get('location'));
      assert.equal(again.text, first.text, 'the same bytes');
    }
    assert.equal(count('tasks'), tasks + 1);
  });

  test('the same key with another body, path or method is 422 and changes nothing', async () => {
    const headers = { 'idempotency-key': nextKey() };
    const created = await post('/api/v1/tasks', { title: 'first' }, headers);
    assert.equal(created.status, 201);
    const before = count('tasks');
    const otherBody = await post('/api/v1/tasks', { title: 'second' }, headers);
    assert.equal(otherBody.status, 422);
    assert.equal(otherBody.body.code, 'idempotency_key_reused');
    const otherPath = await app.api.patch(`/api/v1/tasks/${created.body.id}`, { token: admin.token, json: { title: 'first' }, headers });
    assert.equal(otherPath.status, 422);
    assert.equal(count('tasks'), before);
    assert.equal((await app.api.get(`/api/v1/tasks/${created.body.id}`, { token: admin.token })).body.title, 'first');
  });

  test('keys belong to the caller: another account with the same key writes its own', async () => {
    const other = await app.api.signUp('admin', admin.token);
    const headers = { 'idempotency-key': nextKey() };
    const mine = await post('/api/v1/tasks', { title: 'shared key' }, headers);
    const theirs = await post('/api/v1/tasks', { title: 'shared key' }, headers, other.token);
    assert.equal(theirs.status, 201);
    assert.equal(theirs.headers.get('idempotent-replayed'), null);
    assert.notEqual(theirs.body.id, mine.body.id);
  });

  test('a refused request stores nothing: the key is free for the corrected request', async () => {
    const headers = { 'idempotency-key': nextKey() };
    const refused = await post('/api/v1/tasks', { title: '' }, headers);
    assert.equal(refused.status, 400);
    const missing = await app.api.patch('/api/v1/tasks/999999', { token: admin.token, json: { title: 'x' }, headers });
    assert.equal(missing.status, 404);
    assert.equal((await post('/api/v1/tasks', { title: 'corrected' }, headers)).status, 201);
  });

  test('a delete replays its 204 instead of answering 404', async () => {
    const task = await post('/api/v1/tasks', { title: 'to delete' }, {});
    const headers = { 'idempotency-key': nextKey() };
    const first = await app.api.delete(`/api/v1/tasks/${task.body.id}`, { token: admin.token, headers });
    assert.equal(first.status, 204);
    const again = await app.api.delete(`/api/v1/tasks/${task.body.id}`, { token: admin.token, headers });
    assert.equal(again.status, 204);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal((await app.api.delete(`/api/v1/tasks/${task.body.id}`, { token: admin.token })).status, 404, 'without the key it is gone');
  });

  test('anonymous sign-ups racing with one key create one account and all get its answer', async () => {
    const headers = { 'idempotency-key': nextKey() };
    const json = { username: `race${process.pid}`, email: `race${process.pid}@example.com`, password: 'secret123' };
    const users = count('users');
    // Registration hashes first (an await), so these overlap and race to commit.
    const answers = await Promise.all(Array.from({ length: 8 }, () => app.api.post('/api/v1/auth/register', { json, headers })));
    assert.deepEqual(answers.map((a) => a.status), Array(8).fill(201), answers.map((a) => a.text).join('\n'));
    assert.equal(new Set(answers.map((a) => a.text)).size, 1, 'one body for all');
    assert.equal(answers.filter((a) => a.headers.get('idempotent-replayed') === null).length, 1, 'one of them wrote');
    assert.equal(count('users'), users + 1);
  });

  test('the key is validated: empty, too long, control or non-ASCII characters are 400', async () => {
    for (const bad of ['""', `"${'k'.repeat(256)}"`, 'k'.repeat(256), 'ключ', '"a"b"', 'a b']) {
      const response = await fetch(new URL('/api/v1/tasks', app.url), {
        method: 'POST',
        headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json', 'idempotency-key': encodeURI(bad) === bad ? bad : Buffer.from(bad).toString('latin1') },
        body: JSON.stringify({ title: 'bad key' }),
      });
      assert.equal(response.status, 400, bad);
      const body = (await response.json()) as Json;
      assert.equal(body.code, 'validation_failed');
      assert.equal(body.errors[0].in, 'header');
    }
    assert.equal((await post('/api/v1/tasks', { title: 'bare key' }, { 'idempotency-key': 'k'.repeat(255) })).status, 201, 'a bare key of 255 is taken');
  });

  test('an expired key is forgotten: the same request writes again', async () => {
    const headers = { 'idempotency-key': nextKey() };
    const first = await post('/api/v1/tasks', { title: 'expires' }, headers);
    const writable = new Database(app.config.database.path);
    writable.prepare('UPDATE idempotency_keys SET expires_at = 0').run();
    writable.close();
    const again = await post('/api/v1/tasks', { title: 'expires' }, headers);
    assert.equal(again.status, 201);
    assert.equal(again.headers.get('idempotent-replayed'), null);
    assert.notEqual(again.body.id, first.body.id);
    assert.equal((app.db.prepare('SELECT count(*) AS n FROM idempotency_keys WHERE expires_at = 0').get() as { n: number }).n, 0, 'expired keys are pruned');
  });

  test('login ignores the header: nothing is stored, every attempt is checked', async () => {
    const user = await app.api.signUp('user', admin.token);
    const headers = { 'idempotency-key': nextKey() };
    const keys = count('idempotency_keys');
    assert.equal((await app.api.post('/api/v1/auth/login', { json: { email: user.email, password: 'secret123' }, headers })).status, 200);
    assert.equal((await app.api.post('/api/v1/auth/login', { json: { email: user.email, password: 'wrong-one' }, headers })).status, 401);
    assert.equal(count('idempotency_keys'), keys);
  });
});

describe('keyed writes inside one process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keyed-'));
  const db = openDatabase(join(dir, 'app.db'), { synchronous: 'NORMAL' });
  migrate(db);
  const logger = createLogger({ log: { level: 'silent', dir: '', maxSize: '1m' } } as never, { console: false, files: false });
  const keyed = createKeyedWrites(db, createIdempotencyStore(db, 60), logger);
  const write = createWriter(db, () => {}, keyed.hold);
  const [stage] = keyed.middleware({ parameters: [{ in: 'header', name: 'Idempotency-Key' }] } as never);
  const tasks = () => (db.prepare('SELECT count(*) AS n FROM tasks').get() as { n: number }).n;
  const insertTask = (title: string) => db.prepare("INSERT INTO tasks (title, created_at, updated_at) VALUES (?, 'now', 'now')").run(title);
  after(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** fakeExchange is the part of a request and response the stage uses; sent collects what reached the wire. */
  function fakeExchange(key: string, body: Json) {
    const headers = new Map<string, string>();
    const sent: { status?: number; body?: string; headers?: Map<string, string> } = {};
    const res = {
      statusCode: 201,
      getHeader: (name: string) => headers.get(name.toLowerCase()),
      setHeader: (name: string, value: string) => headers.set(name.toLowerCase(), value),
      removeHeader: (name: string) => headers.delete(name.toLowerCase()),
      status(code: number) {
        res.statusCode = code;
        return res;
      },
      end(chunk?: Buffer | string) {
        Object.assign(sent, { status: res.statusCode, body: String(chunk ?? ''), headers });
        return res;
      },
    };
    const req = { get: () => key, auth: undefined, method: 'POST', path: '/x', input: { body }, id: 'r' };
    Object.assign(res, { req });
    return { req, res, sent };
  }

  function writeAndAnswer(exchange: ReturnType<typeof fakeExchange>, title: string) {
    const row = write(() => insertTask(title));
    exchange.res.end(JSON.stringify({ id: Number(row.lastInsertRowid) }));
  }

  /** conflictAfterWrite is B finding, inside its own write, the row A created: a 409. */
  function conflictAfterWrite(exchange: ReturnType<typeof fakeExchange>) {
    try {
      write(() => {
        insertTask('b');
        throw new Error('UNIQUE constraint failed');
      });
    } catch {
      exchange.res.status(409).end('{"code":"username_taken"}');
    }
  }

  /**
   * race runs two copies of a keyed request: B looks the key up first (nothing yet) and then
   * waits, as if hashing a password, while A writes and commits; then B writes and answers.
   */
  async function race(key: string, bodyA: Json, bodyB: Json, answerB = (exchange: ReturnType<typeof fakeExchange>) => writeAndAnswer(exchange, 'b')) {
    const a = fakeExchange(key, bodyA);
    const b = fakeExchange(key, bodyB);
    let releaseB!: () => void;
    const gate = new Promise<void>((resolve) => (releaseB = resolve));
    let bDone!: Promise<void>;
    stage!(b.req as never, b.res as never, () => {
      bDone = (async () => {
        await gate;
        answerB(b);
      })();
    });
    stage!(a.req as never, a.res as never, () => writeAndAnswer(a, 'a'));
    releaseB();
    await bDone;
    return { a: a.sent, b: b.sent };
  }

  test('two copies that both missed the key: the second to commit rolls back and answers as the first', async () => {
    const { a, b } = await race('"race"', { title: 'a' }, { title: 'a' });
    assert.equal(a.status, 201);
    assert.equal(b.status, 201);
    assert.equal(b.body, a.body, 'B answers with what A stored');
    assert.equal(b.headers?.get('idempotent-replayed'), 'true');
    assert.equal(tasks(), 1, "B's write was rolled back");
    assert.equal(db.inTransaction, false);
  });

  test('a copy with another body that lost the race gets 422 and writes nothing', async () => {
    const before = tasks();
    const { b } = await race('"race-2"', { title: 'a' }, { title: 'other' });
    assert.equal(b.status, 422);
    assert.match(b.body ?? '', /idempotency_key_reused/);
    assert.equal(tasks(), before + 1);
  });

  test('a copy whose write conflicts with what the first one committed answers as the first, not 409', async () => {
    const before = tasks();
    const { a, b } = await race('"race-3"', { title: 'a' }, { title: 'a' }, conflictAfterWrite);
    assert.equal(a.status, 201);
    assert.equal(b.status, 201, b.body);
    assert.equal(b.body, a.body);
    assert.equal(b.headers?.get('idempotent-replayed'), 'true');
    assert.equal(tasks(), before + 1, "B's write was rolled back");
    assert.equal(db.inTransaction, false);
  });

  test('a copy refused before it writes, because the first one committed meanwhile, answers as the first', async () => {
    const { a, b } = await race('"race-4"', { title: 'a' }, { title: 'a' }, (exchange) => exchange.res.status(409).end('{"code":"email_taken"}'));
    assert.equal(b.status, 201, b.body);
    assert.equal(b.body, a.body);
    const other = await race('"race-5"', { title: 'a' }, { title: 'other' }, (exchange) => exchange.res.status(409).end('{"code":"email_taken"}'));
    assert.equal(other.b.status, 422, 'another request under the same key is still refused');
  });

  test('a failure with no answer stored under the key stays what it was', async () => {
    const { req, res, sent } = fakeExchange('"lonely"', {});
    stage!(req as never, res as never, () => res.status(409).end('{"code":"username_taken"}'));
    assert.equal(sent.status, 409);
    assert.equal(sent.body, '{"code":"username_taken"}');
  });

  test('a write held open past its tick is rolled back before any other work of the process runs inside it', async () => {
    const { req, res } = fakeExchange('"held"', {});
    let insideAfterTick = true;
    await new Promise<void>((resolve) => {
      stage!(req as never, res as never, () => {
        write(() => insertTask('held'));
        assert.equal(db.inTransaction, true, 'held open within the tick');
        setImmediate(() => {
          insideAfterTick = db.inTransaction;
          resolve();
        });
      });
    });
    assert.equal(insideAfterTick, false, 'rolled back when the tick ended');
    assert.equal((db.prepare("SELECT count(*) AS n FROM tasks WHERE title = 'held'").get() as { n: number }).n, 0);
  });
});
