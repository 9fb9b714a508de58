import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from '../test-support/app.js';

// What a browser fetches for the dashboard and for Swagger UI.
const PAGE_LOADS = [
  '/',
  '/app.js',
  '/style.css',
  '/api-docs',
  '/api-docs/',
  '/api-docs/swagger-ui.css',
  '/api-docs/swagger-ui-bundle.js',
  '/api-docs/swagger-ui-standalone-preset.js',
  '/api-docs/swagger-ui-init.js',
  '/api-docs/favicon-32x32.png',
  '/openapi.json',
  '/openapi.yaml',
];

/** assertLimited checks a 429 as every limiter must send it: problem+json, Retry-After and both RateLimit fields. */
async function assertLimited(response: Response, policy: string, limit: number, windowSeconds: number): Promise<void> {
  assert.equal(response.status, 429);
  assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
  const body = (await response.json()) as { code: string; status: number };
  assert.equal(body.code, 'rate_limited');
  assert.equal(body.status, 429);
  assert.ok(Number(response.headers.get('retry-after')) >= 1, 'Retry-After');
  assert.equal(response.headers.get('ratelimit-policy'), `"${policy}";q=${limit};w=${windowSeconds}`);
  assert.match(response.headers.get('ratelimit') ?? '', new RegExp(`^"${policy}";r=0;t=\\d+$`));
}

describe('the API budget counts API calls only', () => {
  let app: TestApp;
  const client = { 'x-forwarded-for': '203.0.113.50' };
  before(async () => (app = await startTestApp({ RATE_LIMIT_MAX: '5', RATE_LIMIT_WINDOW_SECONDS: '60' })));
  after(() => app.close());
  const get = (path: string, headers: Record<string, string> = client) => fetch(new URL(path, app.url), { headers, redirect: 'manual' });

  test('loading the dashboard and Swagger UI, twice, costs none of the API budget', async () => {
    for (let round = 0; round < 2; round++) {
      for (const path of PAGE_LOADS) {
        const response = await get(path);
        assert.ok([200, 301].includes(response.status), `${path} → ${response.status}`);
        assert.match(response.headers.get('ratelimit-policy') ?? '', /^"pages";/, path);
      }
    }
    const first = await app.api.get('/api/v1/tasks', { headers: client });
    assert.equal(first.status, 401);
    assert.equal(first.headers.get('ratelimit'), '"default";r=4;t=60', 'the first API call still has the whole budget');
  });

  test('the pages have their own larger bucket, and its 429 is a problem document like the API one', async () => {
    const other = { 'x-forwarded-for': '203.0.113.51' };
    const pagesLimit = 50;
    for (let i = 0; i < pagesLimit; i++) assert.equal((await get('/style.css', other)).status, 200, `page request ${i + 1}`);
    await assertLimited(await get('/api-docs/', other), 'pages', pagesLimit, 60);
    await assertLimited(await get('/', other), 'pages', pagesLimit, 60);
    const api = await app.api.get('/api/v1/tasks', { headers: other });
    assert.equal(api.status, 401, 'the API budget is untouched by the pages');
  });

  test('the API 429 carries the same fields, and a path that is neither counts against the API', async () => {
    const third = { 'x-forwarded-for': '203.0.113.52' };
    for (let i = 0; i < 4; i++) assert.equal((await get('/api/v1/tasks', third)).status, 401);
    assert.equal((await get('/no-such-page', third)).status, 404, 'unknown paths are API requests');
    await assertLimited(await get('/api/v1/tasks', third), 'default', 5, 60);
    await assertLimited(await get('/no-such-page', third), 'default', 5, 60);
    assert.equal((await get('/health', third)).status, 200, 'the probes are never counted');
  });
});

describe('the login limiter answers 429 like the others', () => {
  let app: TestApp;
  before(async () => (app = await startTestApp({ RATE_LIMIT_LOGIN_CONSECUTIVE_FAILS: '3', RATE_LIMIT_LOGIN_FAILS_PER_IP_PER_DAY: '50' })));
  after(() => app.close());

  test('a blocked account and address get problem+json with Retry-After and the login policy', async () => {
    const user = await app.api.signUp('user');
    const login = (password: string) =>
      fetch(new URL('/api/v1/auth/login', app.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.60' },
        body: JSON.stringify({ email: user.email, password }),
      });
    for (let i = 0; i < 3; i++) assert.equal((await login('wrong-password')).status, 401);
    await assertLimited(await login('secret123'), 'login-account', 3, 86_400);
  });
});
