import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from '../test-support/app.js';

type Json = Record<string, any>;

describe('bad input is a 4xx problem and changes nothing', () => {
  let app: TestApp;
  let token: string;
  let taskId: number;
  const snapshot = () => JSON.stringify([app.db.prepare('SELECT * FROM tasks ORDER BY id').all(), app.db.prepare('SELECT * FROM users ORDER BY id').all()]);
  let stored: string;

  before(async () => {
    app = await startTestApp();
    token = (await app.api.signUp()).token;
    taskId = (await app.api.post('/api/v1/tasks', { token, json: { title: 'keep me', description: 'as I am' } })).body.id;
  });
  after(() => app.close());

  /** expectProblem sends a request and checks the status, the code and that the database is as it was. */
  async function expectProblem(status: number, code: string, send: () => Promise<{ status: number; body: Json; text: string; headers: Headers }>) {
    stored = snapshot();
    const response = await send();
    assert.equal(response.status, status, response.text);
    assert.equal(response.body.code, code);
    assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
    assert.doesNotMatch(response.text, /at \w+ \(|node_modules|\.ts:\d+/, 'no stack trace');
    assert.equal(snapshot(), stored);
    return response;
  }
  const post = (raw: string | Buffer, contentType = 'application/json') =>
    app.api.post('/api/v1/tasks', { token, raw, headers: { 'content-type': contentType } });

  test('malformed JSON is 400 invalid_json', async () => {
    for (const raw of ['{"title":', '{title: "x"}', "{'title':'x'}", '{"title":"x"}}', '\u0000']) await expectProblem(400, 'invalid_json', () => post(raw));
  });

  test('JSON that is not an object is 400', async () => {
    await expectProblem(400, 'validation_failed', () => post('[]'));
    for (const raw of ['"x"', 'null', '1', 'true']) await expectProblem(400, 'invalid_json', () => post(raw));
  });

  test('wrong types, out-of-range values and unknown fields are 400 listing every problem', async () => {
    const response = await expectProblem(400, 'validation_failed', () =>
      app.api.post('/api/v1/tasks', { token, json: { title: 42, status: 'finished', dueDate: '31/12/2026', description: 'x'.repeat(5001), owner: 1 } }),
    );
    assert.deepEqual(
      response.body.errors.map((e: Json) => e.pointer).sort(),
      ['/description', '/dueDate', '/owner', '/status', '/title'],
    );
    await expectProblem(400, 'validation_failed', () => app.api.post('/api/v1/tasks', { token, json: { title: 'x'.repeat(201) } }));
  });

  test('prototype keys are unknown fields, not a way in', async () => {
    for (const raw of ['{"title":"x","__proto__":{"admin":true}}', '{"title":"x","constructor":{"prototype":{"admin":true}}}']) {
      const response = await expectProblem(400, 'validation_failed', () => post(raw));
      assert.ok(response.body.errors.some((e: Json) => e.message === 'is not allowed'));
    }
    assert.equal(({} as Json).admin, undefined);
  });

  test('a missing body is 400 with the pointer of the whole body', async () => {
    const response = await expectProblem(400, 'validation_failed', () => app.api.post('/api/v1/tasks', { token }));
    assert.deepEqual(response.body.errors, [{ in: 'body', pointer: '', message: 'is required' }]);
  });

  test('a body over the limit is 413, even when its length is only claimed', async () => {
    await expectProblem(413, 'payload_too_large', () => app.api.post('/api/v1/tasks', { token, json: { title: 'x', description: 'y'.repeat(120_000) } }));
    const claimed = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${app.url}/api/v1/tasks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': '5000000000' },
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.write('{"title":"');
    });
    assert.equal(claimed.status, 413);
    assert.equal(JSON.parse(claimed.body).code, 'payload_too_large');
  });

  test('another media type or charset is 415', async () => {
    await expectProblem(415, 'unsupported_media_type', () => post('title=x', 'application/x-www-form-urlencoded'));
    await expectProblem(415, 'unsupported_media_type', () => post('{"title":"x"}', 'text/plain'));
    await expectProblem(415, 'unsupported_media_type', () => post('--b\r\n\r\nx\r\n--b--', 'multipart/form-data; boundary=b'));
    await expectProblem(415, 'unsupported_media_type', () => post('{"title":"x"}', 'application/json; charset=latin1'));
    await expectProblem(415, 'unsupported_media_type', () => post(Buffer.from('{"title":"x"}', 'utf16le'), 'application/json; charset=utf-16'));
  });

  test('injection strings are stored as text and come back unchanged', async () => {
    const title = `Robert'); DROP TABLE tasks;-- <script>alert(1)</script> \${7*7} {{7*7}}`;
    const created = await app.api.post('/api/v1/tasks', { token, json: { title, description: "' OR '1'='1" } });
    assert.equal(created.status, 201);
    const read = await app.api.get(`/api/v1/tasks/${created.body.id}`, { token });
    assert.equal(read.body.title, title);
    assert.equal(read.body.description, "' OR '1'='1");
    await expectProblem(400, 'validation_failed', () => app.api.get(`/api/v1/tasks?status=${encodeURIComponent("done' OR '1'='1")}`, { token }));
    await expectProblem(400, 'validation_failed', () => app.api.get(`/api/v1/tasks?sort=${encodeURIComponent('title; DROP TABLE tasks')}`, { token }));
    assert.equal((await app.api.get(`/api/v1/tasks/${taskId}`, { token })).body.title, 'keep me');
  });

  test('a very long query string and a malformed %-escape are 4xx, not 500', async () => {
    await expectProblem(400, 'validation_failed', () => app.api.get(`/api/v1/tasks?cursor=${'A'.repeat(4000)}`, { token }));
    await expectProblem(400, 'invalid_path', () => app.api.get('/api/v1/tasks/%E0%A4%A', { token }));
  });

  test('a sane X-Request-Id is echoed; anything else is replaced by a generated one', async () => {
    const sane = await app.api.get('/api/v1/tasks/999999', { token, headers: { 'x-request-id': 'edge-1234.abc' } });
    assert.equal(sane.headers.get('x-request-id'), 'edge-1234.abc');
    assert.equal(sane.body.requestId, 'edge-1234.abc');
    for (const offered of ['<script>alert(1)</script>', 'a'.repeat(200), 'two words']) {
      const response = await app.api.get('/api/v1/tasks/999999', { token, headers: { 'x-request-id': offered } });
      assert.match(response.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
      assert.equal(response.body.requestId, response.headers.get('x-request-id'));
    }
  });

  test('security headers are on every response, and Express does not announce itself', async () => {
    const response = await app.api.get('/api/v1/tasks', { token });
    assert.equal(response.headers.get('x-powered-by'), null);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    assert.match(response.headers.get('content-security-policy') ?? '', /default-src 'self'.*frame-ancestors 'none'/);
  });
});
