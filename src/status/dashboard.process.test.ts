import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { artifacts, chromiumMissing, launchChromium, sidewaysOverflow, watch } from '../test-support/browser.js';
import { ApiClient } from '../test-support/client.js';
import { runLoad, type LoadResult } from '../test-support/load.js';
import { sumSamples } from '../test-support/metrics-text.js';
import { startServerProcess, type ServerProcess } from '../test-support/process.js';
import { METRICS_TOKEN, scrapeMetrics } from '../test-support/status.js';

/** shown is a number as the page shows it ("1,234 since start"), checked against the exact value it keeps beside. */
async function shown(page: Page, selector: string): Promise<number> {
  const figure = page.locator(selector);
  const text = await figure.innerText();
  const value = Number(await figure.getAttribute('data-value'));
  assert.equal(Number(/^[\d,]+/.exec(text)?.[0].replaceAll(',', '')), value, `${selector} shows ${text}`);
  return value;
}

/** sampledAt is the time of the status the page shows now. */
const sampledAt = async (page: Page) => Date.parse((await page.locator('#status-meta').getAttribute('data-sampled-at')) || '0');

/** logIn logs in through the page's form. */
async function logIn(page: Page, email: string, role: string) {
  await page.locator('#login-email').fill(email);
  await page.locator('#login-password').fill('secret123');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByText(new RegExp(`Logged in as \\S+ \\(${role}\\)`)).waitFor();
}

describe('the live status view in Chromium, against 2 cluster workers', { skip: chromiumMissing ?? false }, () => {
  let server: ServerProcess;
  let browser: Browser;
  let api: ApiClient;
  before(async () => {
    mkdirSync(artifacts, { recursive: true });
    server = await startServerProcess({ env: { METRICS_TOKEN, WORKERS: '2', RATE_LIMIT_MAX: '1000' } });
    api = new ApiClient(server.url);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    server?.kill('SIGKILL');
  });

  test('under load the charts move, the numbers shown agree with /metrics, with no console error or CSP violation; a user or an anonymous visitor never sees it', async () => {
    const admin = await api.signUp('admin');
    const user = await api.signUp('user', admin.token);
    for (const title of ['Deploy', 'Watch the charts', 'Celebrate']) await api.post('/api/v1/tasks', { token: admin.token, json: { title } });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems = await watch(page);
    const statusCalls: string[] = [];
    page.on('request', (request) => request.url().endsWith('/api/v1/status') && statusCalls.push(request.url()));
    await page.goto(`${server.url}/`);
    assert.equal(await page.locator('#status').isVisible(), false, 'anonymous: no status view');
    // Before the load, which spends the rate limit: a user logs in and out first.
    await logIn(page, user.email, 'user');
    await page.waitForTimeout(2500);
    assert.equal(await page.locator('#status').isVisible(), false, 'a user: no status view');
    assert.deepEqual(statusCalls, [], 'and no status request');
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByText('Not logged in.').waitFor();
    await logIn(page, admin.email, 'admin');
    await page.locator('#status-requests-total').waitFor();
    // Logging out revoked the user's tokens: the load logs in again.
    const { token } = (await api.post('/api/v1/auth/login', { json: { email: user.email, password: 'secret123' } })).body as { token: string };

    // Each refresh under load: the requests chart and its headline must differ from the one before.
    const seen: Array<{ at: number; path: string; rate: string; workers: number }> = [];
    let loading = true;
    // The load lasts until the view has refreshed four times, however fast this machine serves it.
    const load: Promise<LoadResult> = runLoad({
      baseUrl: server.url,
      concurrency: 6,
      durationMs: 120_000,
      stop: () => seen.length >= 4,
      next: (i) => ({ method: 'GET', path: i % 7 === 0 ? `/api/v1/tasks/${1000 + i}` : i % 3 === 0 ? '/api/v1/tasks?limit=2' : '/api/v1/tasks', token }),
    }).finally(() => (loading = false));
    while (loading) {
      const at = await sampledAt(page);
      if (at !== seen.at(-1)?.at) {
        seen.push({
          at,
          path: (await page.locator('#tile-requests path.line').getAttribute('d')) ?? '',
          rate: await page.locator('#tile-requests .big').innerText(),
          workers: await page.locator('#tile-workers li').count(),
        });
      }
      await page.waitForTimeout(250);
    }
    await page.locator('#status').screenshot({ path: join(artifacts, 'status-desktop.png') });
    const result = await load;
    const loadEnded = Date.now();
    console.log(`dashboard load: ${JSON.stringify(result.statuses)} in ${result.durationMs} ms; refreshes seen: ${JSON.stringify(seen.map((s) => s.rate))}`);
    assert.ok(seen.length >= 3, `the view refreshed by itself (${seen.length} times)`);
    assert.equal(new Set(seen.map((s) => s.path)).size, seen.length, 'the requests chart moved at every refresh');
    assert.ok(seen.every((s) => s.workers === 2), 'both workers are listed');
    assert.deepEqual(Object.keys(result.statuses), ['200', '404', '429'], 'found, not found, and refused by the global limit');
    assert.equal(result.failures.length, 0);

    // Once the page shows a sample taken after the load, its numbers are the whole group's, as /metrics has them.
    for (let i = 0; i < 100 && (await sampledAt(page)) <= loadEnded + 100; i++) await page.waitForTimeout(200);
    assert.ok((await sampledAt(page)) > loadEnded + 100, 'a sample after the load is shown');
    const text = await scrapeMetrics(server.url);
    assert.equal(await shown(page, '[data-route="GET /api/v1/tasks"] .route-total'), sumSamples(text, 'http_requests_total', { method: 'GET', route: '/api/v1/tasks' }));
    assert.equal(await shown(page, '[data-route="GET /api/v1/tasks/{id}"] .route-total'), sumSamples(text, 'http_requests_total', { method: 'GET', route: '/api/v1/tasks/{id}' }));
    assert.equal(await shown(page, '#status-rate-limited-total'), sumSamples(text, 'http_requests_total', { status: '429' }));
    assert.equal(await shown(page, '#status-server-errors-total'), 0);
    assert.equal(await shown(page, '#status-cache-hits'), sumSamples(text, 'cache_results_total', { result: 'hit' }));
    assert.equal(await shown(page, '#status-cache-misses'), sumSamples(text, 'cache_results_total', { result: 'miss' }));
    const pids = server.records().filter((r) => r.message === 'listening').map((r) => String(r.pid));
    assert.deepEqual((await page.locator('#tile-workers li').evaluateAll((rows) => rows.map((r) => (r as unknown as { dataset: { pid: string } }).dataset.pid))).sort(), pids.sort());
    assert.equal(await page.locator('#tile-redis .big').innerText(), 'disabled');

    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    const { overflow, wide } = await sidewaysOverflow(page);
    assert.ok(overflow <= 0, `no sideways scrolling on a phone (${overflow}px): ${wide.join(', ')}`);
    await page.locator('#status').screenshot({ path: join(artifacts, 'status-phone.png') });
    assert.deepEqual(await problems(), [], 'no console error, CSP violation or failed request');
    await page.close();
  });
});
