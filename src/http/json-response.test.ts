import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { readAsset } from '../assets.js';
import { loadSpec } from '../openapi/spec.js';
import { startTestApp, type TestApp } from '../test-support/app.js';

/** The contract with listTasks no longer cached: what a handler sends must not depend on the cache. */
function specWithoutListCache() {
  const text = readAsset('openapi.yaml');
  const listTasks = text.indexOf('operationId: listTasks');
  const cached = /\n\s+x-cache-ttl: \d+\n\s+x-cache-resource: tasks/.exec(text.slice(listTasks));
  assert.ok(cached, 'listTasks is cached in openapi.yaml');
  const at = listTasks + cached.index;
  return loadSpec(text.slice(0, at) + text.slice(at + cached[0].length));
}

describe('one JSON writer, whatever the cache does', () => {
  let app: TestApp;
  let token: string;
  before(async () => {
    const spec = specWithoutListCache();
    assert.equal(spec.operations.find((op) => op.id === 'listTasks')?.cache, null);
    app = await startTestApp({}, { spec });
    token = (await app.api.signUp('admin')).token;
    await app.api.post('/api/v1/tasks', { token, json: { title: 'raw' } });
  });
  after(() => app.close());

  test('GET /tasks answers its page (the SQLite-built JSON as it is) when listTasks has no x-cache-ttl', async () => {
    const list = await app.api.get('/api/v1/tasks', { token });
    assert.equal(list.status, 200);
    assert.equal(list.headers.get('x-cache'), null, 'not cached');
    assert.equal(list.body.text, undefined, 'not a RawJson serialized as an object');
    assert.equal(list.body.data[0].title, 'raw');
    assert.equal(list.body.page.hasMore, false);
    assert.equal(Number(list.headers.get('content-length')), Buffer.byteLength(JSON.stringify(list.body)));
    assert.match(list.headers.get('content-type') ?? '', /^application\/json; charset=utf-8$/);
  });

  test('HEAD gets the headers of GET and no body', async () => {
    const response = await fetch(`${app.url}/api/v1/tasks`, { method: 'HEAD', headers: { authorization: `Bearer ${token}` } });
    assert.equal(response.status, 200);
    assert.ok(Number(response.headers.get('content-length')) > 0);
    assert.equal(await response.text(), '');
  });
});
