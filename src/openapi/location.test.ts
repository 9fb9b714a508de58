import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from '../test-support/app.js';
import { testSpec } from '../test-support/contract.js';

type Json = Record<string, any>;

// Every operation whose responses declare a Location header, with the example body of the spec.
const creators = testSpec.operations.filter((op) => Object.values(op.responses).some((response: Json) => response.headers?.Location));

describe('every Location the API sends resolves', () => {
  let app: TestApp;
  let admin: { token: string };

  before(async () => {
    app = await startTestApp();
    admin = await app.api.signUp('admin');
  });
  after(() => app.close());

  test('the spec declares Location on the operations that create', () => {
    assert.deepEqual(creators.map((op) => op.id).sort(), ['createTask', 'registerUser']);
  });

  for (const op of creators) {
    test(`${op.method.toUpperCase()} ${op.path}: the Location is a GET answering 200 with what was created`, async () => {
      const example = (testSpec.document.paths as Json)[op.path.replace(/^\/api\/v1/, '')][op.method].requestBody.content['application/json'].example;
      // The example is fixed; a fresh username and email keep a second run from colliding.
      const unique = Math.random().toString(36).slice(2, 8);
      const body = op.id === 'registerUser' ? { ...example, username: `loc_${unique}`, email: `loc_${unique}@example.com` } : example;
      const created = await app.api.request(op.method.toUpperCase(), op.path, { token: admin.token, json: body });
      assert.equal(created.status, 201, created.text);
      const location = created.headers.get('location');
      assert.ok(location, 'a Location header');
      assert.match(location, /^\/api\/v1\/[a-z]+\/\d+$/);
      const fetched = await app.api.get(location, { token: admin.token });
      assert.equal(fetched.status, 200, `GET ${location} → ${fetched.status}`);
      assert.deepEqual(fetched.body, created.body);
    });
  }
});
