import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
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
    assert.equal(response.body.requestId, response.headers.get('x-request-id'));
    assert.doesNotMatch(response.text, /at \w+ \(|node_modules|\.ts:\d+/, 'no stack trace');
    assert.equal(snapshot(), stored);
    return response;
  }
  /** sendRaw writes a request over node:http (for what fetch will not send) and reads the answer. */
  const sendRaw = (method: string, path: string, headers: Record<string, string>, chunks: Array<string | Buffer>, end = true) =>
    new Promise<{ status: number; headers: Record<string, unknown>; body: Json }>((resolve, reject) => {
      const req = request(`${app.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...headers } });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(body) as Json }));
      });
      req.on('error', reject);
      for (const chunk of chunks) req.write(chunk);
      if (end) req.end();
    });
  const post = (raw: string | Buffer, contentType = 'application/json') =>
    app.api.post('/api/v1/tasks', { token, raw, headers: { 'content-type': contentType } });

  test('malformed JSON is 400 invalid_json', async () => {
    for (const raw of ['{"title":', '{title: "x"}', "{'title':'x'}", '{"title":"x"}}', '\u0000', '   ']) await expectProblem(400, 'invalid_json', () => post(raw));
    await expectProblem(400, 'invalid_json', () => post(Buffer.from([0x7b, 0x22, 0x74, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d])));
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
    await expectProblem(400, 'validation_failed', () => app.api.post('/api/v1/tasks', { token, json: { title: '' } }));
    await expectProblem(400, 'validation_failed', () => app.api.post('/api/v1/tasks', { token, json: { title: 'x', dueDate: '2026-02-30' } }));
    const empty = await expectProblem(400, 'validation_failed', () => app.api.patch(`/api/v1/tasks/${taskId}`, { token, json: {} }));
    assert.deepEqual(empty.body.errors, [{ in: 'body', pointer: '', message: 'must NOT have fewer than 1 properties' }]);
    const query = await expectProblem(400, 'validation_failed', () => app.api.get('/api/v1/tasks?limit=0&order=up&status=todo&status=done', { token }));
    assert.deepEqual([...new Set(query.body.errors.map((e: Json) => e.pointer))].sort(), ['/limit', '/order', '/status']);
    assert.equal((await app.api.get('/api/v1/tasks?limit=101', { token })).body.errors[0].pointer, '/limit');
  });

  test('prototype keys are unknown fields, not a way in', async () => {
    for (const raw of ['{"title":"x","__proto__":{"admin":true}}', '{"title":"x","constructor":{"prototype":{"admin":true}}}']) {
      const response = await expectProblem(400, 'validation_failed', () => post(raw));
      assert.deepEqual(response.body.errors, [{ in: 'body', pointer: `/${Object.keys(JSON.parse(raw) as Json)[1]}`, message: 'is not allowed' }]);
    }
    const both = await expectProblem(400, 'validation_failed', () => post('{"title":"x","__proto__":{},"constructor":{}}'));
    assert.deepEqual(both.body.errors.map((e: Json) => e.pointer), ['/__proto__', '/constructor']);
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
    stored = snapshot();
    const chunked = await sendRaw('POST', '/api/v1/tasks', { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, [
      '{"title":"',
      'x'.repeat(60_000),
      'y'.repeat(60_000),
      '"}',
    ]);
    assert.equal(chunked.status, 413, 'streamed without a length');
    assert.equal(chunked.body.code, 'payload_too_large');
    assert.equal(snapshot(), stored);
  });

  test('another media type or charset is 415', async () => {
    await expectProblem(415, 'unsupported_media_type', () => post('title=x', 'application/x-www-form-urlencoded'));
    await expectProblem(415, 'unsupported_media_type', () => post('{"title":"x"}', 'text/plain'));
    await expectProblem(415, 'unsupported_media_type', () => post('--b\r\n\r\nx\r\n--b--', 'multipart/form-data; boundary=b'));
    await expectProblem(415, 'unsupported_media_type', () => post('{"title":"x"}', 'application/json; charset=latin1'));
    await expectProblem(415, 'unsupported_media_type', () => post(Buffer.from('{"title":"x"}', 'utf16le'), 'application/json; charset=utf-16'));
    await expectProblem(415, 'unsupported_media_type', () => app.api.post('/api/v1/tasks', { token, raw: Buffer.from('{"title":"x"}') }));
    await expectProblem(415, 'unsupported_media_type', () =>
      app.api.post('/api/v1/tasks', { token, raw: '{"title":"x"}', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } }),
    );
    assert.equal((await post('{"title":"utf-8 is fine"}', 'application/json; charset=UTF-8')).status, 201);
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
    await expectProblem(400, 'validation_failed', () => app.api.get(`/api/v1/tasks?status=${'a'.repeat(12_000)}`, { token }));
    const many = await expectProblem(400, 'validation_failed', () => app.api.get(`/api/v1/tasks?${Array.from({ length: 300 }, (_, i) => `p${i}=1`).join('&')}`, { token }));
    assert.equal(many.body.errors.length, 300);
    await expectProblem(400, 'invalid_path', () => app.api.get('/api/v1/tasks/%E0%A4%A', { token }));
    await expectProblem(400, 'validation_failed', () => app.api.get('/api/v1/tasks?status=%E0%A4%A', { token }));
  });

  test('a request head too large for the HTTP parser is 431 as a problem document', async () => {
    stored = snapshot();
    const response = await fetch(`${app.url}/api/v1/tasks?status=${'a'.repeat(20_000)}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(response.status, 431);
    assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
    const body = (await response.json()) as Json;
    assert.equal(body.code, 'headers_too_large');
    assert.equal(body.requestId, response.headers.get('x-request-id'));
    assert.equal(snapshot(), stored);
  });

  test('a request the HTTP parser cannot read is 400 as a problem document', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(new URL(app.url).port as unknown as number, '127.0.0.1');
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
      socket.write('GET /api/v1/tasks HTTP/1.1\r\nHost: x\r\nNot A Header\r\n\r\n');
    });
    assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(answer, /\r\ncontent-type: application\/problem\+json/i);
    assert.equal((JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as Json).code, 'bad_request');
  });

  test('a sane X-Request-Id is echoed; anything else is replaced by a generated one', async () => {
    const sane = await app.api.get('/api/v1/tasks/999999', { token, headers: { 'x-request-id': 'edge-1234.abc' } });
    assert.equal(sane.headers.get('x-request-id'), 'edge-1234.abc');
    assert.equal(sane.body.requestId, 'edge-1234.abc');
    assert.equal((await app.api.get('/api/v1/tasks', { token, headers: { 'x-request-id': 'a'.repeat(128) } })).headers.get('x-request-id'), 'a'.repeat(128));
    for (const offered of ['<script>alert(1)</script>', 'a'.repeat(129), 'two words', 'id";drop', '']) {
      const response = await app.api.get('/api/v1/tasks/999999', { token, headers: { 'x-request-id': offered } });
      assert.match(response.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
      assert.equal(response.body.requestId, response.headers.get('x-request-id'));
    }
  });

  test('security headers are on every response, and Express does not announce itself', async () => {
    const answers = [
      await app.api.get('/api/v1/tasks', { token }),
      await app.api.get('/api/v1/tasks'),
      await app.api.get('/api/v1/nowhere'),
      await post('{"title":'),
      await app.api.get('/health'),
    ];
    for (const response of answers) {
      const where = `${response.status} ${response.body?.code ?? ''}`;
      assert.equal(response.headers.get('x-powered-by'), null, where);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff', where);
      assert.match(response.headers.get('content-security-policy') ?? '', /default-src 'self'.*frame-ancestors 'none'/, where);
    }
  });
});
