import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { readAsset } from '../assets.js';
import { startTestApp, type TestApp } from '../test-support/app.js';

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
    assert.deepEqual(parse(await yaml.text()), spec);
  });

  test('the dashboard and its files come with their types, under the strict policy without inline script', async () => {
    for (const [path, type] of [['/', 'text/html'], ['/app.js', 'text/javascript'], ['/style.css', 'text/css']] as const) {
      const response = await get(path);
      assert.equal(response.status, 200, path);
      assert.match(response.headers.get('content-type') ?? '', new RegExp(`^${type}`));
      assert.match(response.headers.get('content-security-policy') ?? '', /script-src 'self';style-src 'self';/);
    }
    const html = await (await get('/')).text();
    assert.doesNotMatch(html, /<script>|<script(?![^>]*src=)[^>]*>|\son\w+=|style="/, 'no inline script, handler or style');
    const js = await (await get('/app.js')).text();
    assert.doesNotMatch(js, /innerHTML|outerHTML|insertAdjacentHTML|localStorage\.setItem|eval\(/);
  });

  test('/api-docs/ has its own policy, and its assets are served', async () => {
    const redirect = await fetch(`${app.url}/api-docs`, { redirect: 'manual' });
    assert.equal(redirect.status, 301);
    const docs = await get('/api-docs/');
    const policy = docs.headers.get('content-security-policy') ?? '';
    assert.match(policy, /style-src 'self' 'unsafe-inline'/);
    assert.match(policy, /script-src 'self';/, 'scripts stay same-origin files');
    for (const file of ['swagger-ui.css', 'swagger-ui-bundle.js', 'swagger-ui-standalone-preset.js', 'swagger-ui-init.js', 'favicon-32x32.png']) {
      assert.equal((await get(`/api-docs/${file}`)).status, 200, file);
    }
  });
});
