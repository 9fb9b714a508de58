import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createAjv } from './ajv.js';
import { startTestApp, type TestApp } from '../test-support/app.js';
import { testSpec } from '../test-support/contract.js';

type Json = Record<string, any>;

// Every spelling of a number that is not plain decimal digits in range, and the values that
// overflow a double or its exact integers.
const HOSTILE = ['Infinity', '-Infinity', 'NaN', '1e400', '-1e400', '-0', '0x1', '1e0', '+1', '01', '1.0', ' 1', '1 ', '9007199254740993', '1_000', '１', ''];

const integerParameters = testSpec.operations.flatMap((op) =>
  op.parameters.filter((p) => (p.schema as Json | undefined)?.type === 'integer').map((parameter) => ({ op, parameter })),
);

describe('integer parameters accept only canonical decimal digits in range', () => {
  let app: TestApp;
  let admin: { token: string };
  let taskId: number;
  let userId: number;
  const snapshot = () => JSON.stringify([app.db.prepare('SELECT * FROM tasks ORDER BY id').all(), app.db.prepare('SELECT * FROM users ORDER BY id').all()]);

  before(async () => {
    app = await startTestApp();
    admin = await app.api.signUp('admin');
    taskId = (await app.api.post('/api/v1/tasks', { token: admin.token, json: { title: 'kept' } })).body.id;
    userId = (await app.api.signUp('user', admin.token)).id;
  });
  after(() => app.close());

  test('the spec has integer parameters in paths and queries to walk', () => {
    const where = new Set(integerParameters.map(({ parameter }) => parameter.in));
    assert.deepEqual([...where].sort(), ['path', 'query']);
  });

  /** urlFor fills the operation's path, the parameter under test with the hostile text, the others with real ids. */
  function urlFor(op: (typeof integerParameters)[number]['op'], parameter: Json, text: string): string {
    const real = op.path.includes('/users/') ? userId : taskId;
    const path = op.path.replace(/\{(\w+)\}/g, (_all, name: string) => (parameter.in === 'path' && name === parameter.name ? encodeURIComponent(text) : String(real)));
    return parameter.in === 'query' ? `${path}?${parameter.name}=${encodeURIComponent(text)}` : path;
  }

  for (const { op, parameter } of integerParameters) {
    test(`${op.method.toUpperCase()} ${op.path}: ${parameter.in} ${parameter.name} refuses ${HOSTILE.length} hostile spellings with 400`, async () => {
      const before = snapshot();
      for (const text of HOSTILE) {
        const body = op.body ? { role: 'admin', title: 'changed', status: 'done' } : undefined;
        const url = urlFor(op, parameter, text);
        const response = await app.api.request(op.method.toUpperCase(), url, { token: admin.token, ...(body ? { json: pick(op.id, body) } : {}) });
        if (text === '' && parameter.in === 'path') {
          // An empty path segment is another path: no operation, or a list.
          assert.ok([404, 405, 200].includes(response.status), `${url} → ${response.status}`);
          continue;
        }
        assert.equal(response.status, 400, `${JSON.stringify(text)} in ${url} → ${response.status} ${response.text}`);
        assert.equal(response.body.code, 'validation_failed');
        assert.ok(
          response.body.errors.some((e: Json) => e.in === parameter.in && e.pointer === `/${parameter.name}`),
          `${JSON.stringify(text)}: ${JSON.stringify(response.body.errors)}`,
        );
      }
      assert.equal(snapshot(), before, 'nothing stored changed');
    });
  }

  test('canonical values at the edges of the range are taken, one past them refused', async () => {
    const ok = await app.api.get('/api/v1/tasks?limit=100', { token: admin.token });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.page.limit, 100);
    assert.equal((await app.api.get('/api/v1/tasks?limit=1', { token: admin.token })).body.page.limit, 1);
    for (const limit of ['0', '101', '-1']) {
      assert.equal((await app.api.get(`/api/v1/tasks?limit=${limit}`, { token: admin.token })).status, 400, limit);
    }
    assert.equal((await app.api.get('/api/v1/tasks/9007199254740991', { token: admin.token })).status, 404, 'the largest safe id is a valid id');
    assert.equal((await app.api.get(`/api/v1/tasks/${taskId}`, { token: admin.token })).status, 200);
  });

  test('a repeated integer parameter is refused, not read as its first or last value', async () => {
    const response = await app.api.get('/api/v1/tasks?limit=5&limit=6', { token: admin.token });
    assert.equal(response.status, 400);
    assert.equal(response.body.errors[0].pointer, '/limit');
  });

  test('no validator takes a non-finite number: JSON spells Infinity as 1e400, and range checks skip it', () => {
    for (const kind of ['parameters', 'bodies'] as const) {
      const validate = createAjv(kind).compile({ type: 'number', minimum: 0, maximum: 10 });
      assert.equal(validate(5), true);
      for (const value of [JSON.parse('1e400'), -Infinity, Number.NaN]) assert.equal(validate(value), false, `${kind}: ${value}`);
    }
  });
});

/** pick keeps the body fields the operation's schema knows, so that only the parameter is wrong. */
function pick(operationId: string, body: Json): Json | undefined {
  if (operationId === 'updateUser') return { role: body.role };
  if (operationId === 'updateTask') return { title: body.title };
  return undefined;
}
