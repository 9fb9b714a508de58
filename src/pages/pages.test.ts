import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { ASSET_FILES, PAGE_ASSETS, readAsset } from '../assets.js';
import { startTestApp, type TestApp } from '../test-support/app.js';

const STRICT_CSP =
  "default-src 'self';script-src 'self';style-src 'self';img-src 'self' data:;connect-src 'self';font-src 'self';" +
  "object-src 'none';base-uri 'none';form-action 'self';frame-ancestors 'none'";

describe('pages, docs and the served spec', () => {
  let app: TestApp;
  before(async () => (app = await startTestApp()));
  after(() => app.close());
  const get = (path: string) => fetch(`${app.url}${path}`);

  test('/openapi.json and /openapi.yaml serve openapi.yaml', async () => {
    const spec = parse(readAsset('openapi.yaml'));
    const json = await get('/openapi.json');
    assert.match(json.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(await json.json(), spec);
    const yaml = await get('/openapi.yaml');
    assert.match(yaml.headers.get('content-type') ?? '', /^application\/yaml/);
    assert.equal(yaml.headers.get('cache-control'), 'no-cache');
    assert.deepEqual(parse(await yaml.text()), spec);
  });

  test('the dashboard and its files come with their types, under the strict policy without inline script', async () => {
    for (const [path, type] of [['/', 'text/html'], ['/app.js', 'text/javascript'], ['/status.js', 'text/javascript'], ['/style.css', 'text/css']] as const) {
      const response = await get(path);
      assert.equal(response.status, 200, path);
      assert.match(response.headers.get('content-type') ?? '', new RegExp(`^${type}; charset=utf-8$`), path);
      assert.equal(response.headers.get('cache-control'), 'no-cache', path);
      assert.equal(response.headers.get('content-security-policy'), STRICT_CSP, path);
    }
    const html = await (await get('/')).text();
    assert.doesNotMatch(html, /<script(?![^>]*\ssrc=)[^>]*>|\son\w+=|\sstyle=|<style/i, 'no inline script, handler or style');
    for (const script of ['/app.js', '/status.js']) {
      const js = await (await get(script)).text();
      assert.doesNotMatch(js, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|localStorage|eval\(|new Function|\.style\b|'style'/, script);
    }
  });

  test('/api-docs/ has its own policy, and Swagger UI files are served from memory with their types', async () => {
    const redirect = await fetch(`${app.url}/api-docs`, { redirect: 'manual' });
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.get('location'), '/api-docs/');
    const docs = await get('/api-docs/');
    assert.match(docs.headers.get('content-type') ?? '', /^text\/html/);
    const policy = docs.headers.get('content-security-policy') ?? '';
    assert.notEqual(policy, STRICT_CSP);
    assert.match(policy, /style-src 'self' 'unsafe-inline'/);
    assert.match(policy, /script-src 'self';/, 'scripts stay same-origin files');
    assert.doesNotMatch(await docs.text(), /<script>/, 'the page has no inline script');
    const types: Record<string, RegExp> = {
      'swagger-ui.css': /^text\/css/,
      'swagger-ui-bundle.js': /^text\/javascript/,
      'swagger-ui-standalone-preset.js': /^text\/javascript/,
      'swagger-ui-init.js': /^text\/javascript/,
      'favicon-32x32.png': /^image\/png$/,
      'favicon-16x16.png': /^image\/png$/,
    };
    for (const [file, type] of Object.entries(types)) {
      const response = await get(`/api-docs/${file}`);
      assert.equal(response.status, 200, file);
      assert.match(response.headers.get('content-type') ?? '', type, file);
      assert.ok(response.headers.get('cache-control'), file);
    }
    assert.equal((await get('/api-docs/index.html')).status, 404, 'nothing else of swagger-ui-dist is served');
  });

  test('Swagger UI sends the Authorize token to every operation with x-roles', async () => {
    const init = await (await get('/api-docs/swagger-ui-init.js')).text();
    const options = JSON.parse(/var options = (.*);\n/.exec(init)?.[1] ?? 'null') as { spec: any };
    assert.deepEqual(options.spec.security, [{ bearerAuth: [] }], 'bearer is the default');
    for (const [path, item] of Object.entries(options.spec.paths as Record<string, Record<string, any>>)) {
      for (const op of Object.values(item).filter((o) => o?.operationId)) {
        if (op['x-roles']) assert.equal(op.security, undefined, `${path} keeps the bearer default`);
      }
    }
    assert.deepEqual(options.spec.paths['/auth/login'].post.security, [], 'a public operation stays public');
    assert.deepEqual(options.spec.paths['/metrics'].get.security, [{ metricsToken: [] }], 'its own security is kept');
  });

  test('every file the pages serve is carried by the bundle', () => {
    for (const name of PAGE_ASSETS) assert.ok(ASSET_FILES.includes(name), name);
  });
});
