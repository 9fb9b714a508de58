import assert from 'node:assert/strict';
import type { Request, Response } from 'express';
import { after, before, describe, test } from 'node:test';
import { ROLES } from '../auth/roles.js';
import { createAjv } from './ajv.js';
import { operationsRouter } from './router.js';
import type { Operation } from './spec.js';
import { startTestApp, type TestApp } from '../test-support/app.js';
import { testSpec } from '../test-support/contract.js';

type Json = Record<string, any>;

/** rawOperation is an operation as openapi.yaml writes it (testSpec.document is not dereferenced). */
function rawOperation(op: Operation): Json {
  const template = op.path.replace(/^\/api\/v1/, '');
  return (testSpec.document.paths as Json)[template][op.method] as Json;
}

/** exampleBody is the request body example openapi.yaml gives for an operation. */
function exampleBody(op: Operation): unknown {
  return rawOperation(op).requestBody?.content?.['application/json']?.example;
}

const protectedOps = testSpec.operations.filter((op) => op.roles !== null);
// Open to anyone: no x-roles, and a security list that is empty or offers {} (no credentials).
const anonymousOps = testSpec.operations.filter((op) => {
  const security = rawOperation(op).security as Json[] | undefined;
  return op.roles === null && security !== undefined && (security.length === 0 || security.some((s) => Object.keys(s).length === 0));
});

describe('role matrix generated from openapi.yaml', () => {
  let app: TestApp;
  let admin: { token: string };
  const snapshot = () => JSON.stringify([app.db.prepare('SELECT * FROM tasks ORDER BY id').all(), app.db.prepare('SELECT * FROM users ORDER BY id').all()]);

  before(async () => {
    app = await startTestApp();
    admin = await app.api.signUp('admin');
  });
  after(() => app.close());

  /**
   * pathFor fills {id} with a fresh row: made by the spec's POST on the collection with its
   * example body, or, for accounts (made by registering, not by POST /users), a fresh sign-up.
   */
  async function pathFor(op: Operation): Promise<string> {
    if (!op.path.includes('{id}')) return op.path;
    const collection = op.path.slice(0, op.path.indexOf('/{id}'));
    const create = testSpec.operations.find((candidate) => candidate.method === 'post' && candidate.path === collection);
    const id = create ? (await send(create, create.path, admin.token)).body.id : (await app.api.signUp(ROLES[0], admin.token)).id;
    assert.ok(Number.isSafeInteger(id), `a fresh row for ${op.path}`);
    return op.path.replace('{id}', String(id));
  }

  const send = (op: Operation, path: string, token?: string) => {
    const body = exampleBody(op);
    return app.api.request(op.method.toUpperCase(), path, { ...(token ? { token } : {}), ...(body !== undefined ? { json: body } : {}) });
  };

  test('every operation either declares x-roles or is open by its security list', () => {
    const neither = testSpec.operations.filter((op) => op.roles === null && !anonymousOps.includes(op) && rawOperation(op).security?.[0]?.metricsToken === undefined);
    assert.deepEqual(neither.map((op) => op.id), [], 'an operation that needs a token must name its roles');
    assert.ok(protectedOps.length >= 10, `${protectedOps.length} protected operations`);
  });

  for (const op of protectedOps) {
    const label = `${op.method.toUpperCase()} ${op.path}`;

    test(`${label}: anonymous or with a bad token gets 401 with WWW-Authenticate; the handler does not run and nothing changes`, async () => {
      const path = await pathFor(op);
      for (const [token, code] of [[undefined, 'missing_token'], ['not.a.jwt', 'invalid_token']] as const) {
        const stored = snapshot();
        const handled = app.handled.length;
        const response = await send(op, path, token);
        assert.equal(response.status, 401);
        assert.equal(response.body.code, code);
        assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer .*error="invalid_token"/);
        assert.equal(app.handled.length, handled);
        assert.equal(snapshot(), stored);
      }
    });

    for (const role of ROLES.filter((r) => !op.roles!.includes(r))) {
      test(`${label}: ${role} gets 403; the handler does not run and nothing changes`, async () => {
        const caller = await app.api.signUp(role, admin.token);
        const path = await pathFor(op);
        const stored = snapshot();
        const handled = app.handled.length;
        const response = await send(op, path, caller.token);
        assert.equal(response.status, 403);
        assert.equal(response.body.code, 'forbidden');
        assert.equal(app.handled.length, handled);
        assert.equal(snapshot(), stored);
      });
    }

    for (const role of op.roles!) {
      test(`${label}: ${role} is allowed (2xx) and the handler runs`, async () => {
        const caller = await app.api.signUp(role, admin.token);
        const path = await pathFor(op);
        const handled = app.handled.length;
        const response = await send(op, path, caller.token);
        assert.ok(response.status >= 200 && response.status < 300, `${response.status} ${response.text}`);
        assert.deepEqual(app.handled.slice(handled), [op.id]);
      });
    }
  }
});

describe('operations without x-roles are open to anonymous callers', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp();
    await app.api.signUp('admin');
  });
  after(() => app.close());

  test('the spec declares open operations, each on purpose: no x-roles and a security list of its own that offers no credentials', () => {
    assert.ok(anonymousOps.length > 0);
    for (const op of anonymousOps) assert.ok(op.roles === null && Array.isArray(rawOperation(op).security), op.id);
  });

  test('each answers 2xx without a token, in spec order, with the spec examples (register, then log in)', async () => {
    for (const op of anonymousOps) {
      // The register example asks for admin, which only an administrator may grant.
      const { role: _role, ...body } = (exampleBody(op) ?? {}) as Json;
      const handled = app.handled.length;
      const response = await app.api.request(op.method.toUpperCase(), op.path, op.body ? { json: body } : {});
      assert.ok(response.status >= 200 && response.status < 300, `${op.id}: ${response.status} ${response.text}`);
      assert.deepEqual(app.handled.slice(handled), [op.id]);
    }
  });
});

describe('routes come from the spec only', () => {
  let app: TestApp;
  let token: string;
  before(async () => {
    app = await startTestApp();
    token = (await app.api.signUp()).token;
  });
  after(() => app.close());

  test('a path not in the spec is 404 route_not_found, with or without a token', async () => {
    for (const path of ['/api/v1/nope', '/api/v2/tasks', '/api/v1/tasks/1/extra', '/api/v1/tasks/', '/api/v1/TASKS', '/admin', '/api/v1/users/1/role']) {
      for (const options of [{ token }, {}]) {
        const response = await app.api.get(path, options);
        assert.equal(response.status, 404, path);
        assert.equal(response.body.code, 'route_not_found');
      }
    }
  });

  test('a wrong method on a known path is 405 with Allow', async () => {
    const put = await app.api.request('PUT', '/api/v1/tasks/1', { token, json: {} });
    assert.equal(put.status, 405);
    assert.equal(put.body.code, 'method_not_allowed');
    assert.equal(put.headers.get('allow'), 'GET, PATCH, DELETE, HEAD');
    const del = await app.api.delete('/api/v1/tasks', { token });
    assert.equal(del.headers.get('allow'), 'GET, POST, HEAD');
    const anonymous = await app.api.request('PUT', '/api/v1/users/1');
    assert.equal(anonymous.status, 405, 'the method is checked before the caller');
    assert.equal(anonymous.headers.get('allow'), 'GET, PATCH, HEAD');
    assert.equal((await app.api.request('HEAD', '/api/v1/tasks', { token })).status, 200, 'HEAD goes with GET');
  });

  test('an unknown query parameter is 400 naming it', async () => {
    const response = await app.api.get('/api/v1/tasks?limit=5&sneaky=1', { token });
    assert.equal(response.status, 400);
    assert.deepEqual(response.body.errors, [{ in: 'query', pointer: '/sneaky', message: 'is not allowed' }]);
    const none = await app.api.get('/api/v1/auth/me?debug=1&x=2', { token });
    assert.deepEqual(none.body.errors.map((e: Json) => e.pointer), ['/debug', '/x'], 'on an operation without query parameters too');
  });

  test('path and query values are coerced to their declared types, or rejected', async () => {
    const bad = await app.api.get('/api/v1/tasks/abc', { token });
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.body.errors, [{ in: 'path', pointer: '/id', message: 'must be an integer in plain decimal digits' }]);
    const zero = await app.api.get('/api/v1/tasks/0', { token });
    assert.equal(zero.body.errors[0].pointer, '/id');
    const coerced = await app.api.get('/api/v1/tasks?limit=3', { token });
    assert.equal(coerced.body.page.limit, 3);
    const notNumber = await app.api.get('/api/v1/tasks?limit=three&order=sideways', { token });
    assert.deepEqual(
      notNumber.body.errors.map((e: Json) => e.pointer),
      ['/limit', '/order'],
    );
  });

  test('the app refuses to start when the spec and the handlers disagree', () => {
    const handler = (_req: Request, res: Response) => void res.end();
    const handlers = Object.fromEntries(testSpec.operations.map((op) => [op.id, handler]));
    const stages = { before: () => [], body: handler, after: () => [] };
    assert.doesNotThrow(() => operationsRouter(testSpec, handlers, stages));
    const { listTasks: _dropped, ...missingOne } = handlers;
    assert.throws(() => operationsRouter(testSpec, missingOne, stages), /no handler for \[listTasks\]/);
    assert.throws(() => operationsRouter(testSpec, { ...handlers, exportTasks: handler }, stages), /not in the spec: \[exportTasks\]/);
  });

  test('every response schema of the spec compiles', () => {
    const ajv = createAjv('bodies');
    let compiled = 0;
    for (const op of testSpec.operations) {
      for (const response of Object.values(op.responses) as Json[]) {
        for (const media of Object.values(response.content ?? {}) as Json[]) {
          ajv.compile(media.schema);
          compiled++;
        }
      }
    }
    assert.ok(compiled > 80, `${compiled} schemas`);
  });
});
