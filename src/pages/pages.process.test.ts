import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { projectRoot } from '../assets.js';
import { startTestApp, type TestApp } from '../test-support/app.js';

const CHROMIUM = '/usr/bin/chromium';
const missing = existsSync(CHROMIUM) ? null : 'Debian chromium is not installed (apt-get install chromium)';
if (missing && process.env.CI === 'true') throw new Error(`${missing}; CI never skips the browser tests`);
const artifacts = join(projectRoot, 'test-results');

/**
 * watch collects what a page must never produce: console errors, uncaught errors, CSP violations,
 * and failed responses. Chromium logs every 4xx fetch as a console error; those are reported once,
 * as failed responses with their URL, so a test can allow the one it provoked.
 */
async function watch(page: Page) {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && !/^Failed to load resource: the server responded with a status of/.test(message.text())) {
      problems.push(`console: ${message.text()}`);
    }
  });
  page.on('response', (response) => response.status() >= 400 && problems.push(`response: ${response.status()} ${new URL(response.url()).pathname}`));
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  // Browser-side code goes in as text: this file is type-checked for Node, without the DOM.
  await page.addInitScript(`
    window.cspViolations = [];
    document.addEventListener('securitypolicyviolation', (event) => window.cspViolations.push(event.violatedDirective + ' ' + event.blockedURI));`);
  return async () => [...problems, ...(await page.evaluate<string[]>('window.cspViolations')).map((v) => `csp: ${v}`)];
}

describe('the dashboard and the API docs in Chromium', { skip: missing ?? false }, () => {
  let app: TestApp;
  let browser: Browser;
  before(async () => {
    mkdirSync(artifacts, { recursive: true });
    app = await startTestApp();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  after(async () => {
    await browser?.close();
    await app?.close();
  });

  test('register the first user (admin), manage tasks, then a user sees no admin controls, and a failed login is shown', async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const problems = await watch(page);
    await page.goto(`${app.url}/`);

    await page.getByLabel('Username').fill('alice');
    await page.locator('#reg-email').fill('alice@example.com');
    await page.locator('#reg-password').fill('secret123');
    await page.getByRole('button', { name: 'Register' }).click();
    for (let i = 0; i < 100 && (await page.locator('#login-email').inputValue()) !== 'alice@example.com'; i++) await page.waitForTimeout(50);
    assert.equal(await page.locator('#login-email').inputValue(), 'alice@example.com', 'registering fills in the login form');
    await page.locator('#login-password').fill('secret123');
    await page.keyboard.press('Enter');
    await page.getByText('Logged in as alice (admin)').waitFor();
    assert.equal(await page.evaluate('localStorage.length'), 0, 'the token is not in localStorage');
    assert.ok(await page.evaluate('sessionStorage.getItem("token")'));

    for (const title of ['Write the tests', 'Ship it', 'Celebrate']) {
      await page.getByLabel('Title').fill(title);
      await page.getByRole('button', { name: 'Create task' }).click();
      await page.getByRole('cell', { name: title, exact: true }).waitFor();
    }
    const row = page.getByRole('row', { name: /Write the tests/ });
    await row.getByLabel('Status of Write the tests').selectOption('done');
    await row.getByRole('button', { name: 'Save status' }).click();
    await page.getByRole('row', { name: /Write the tests.*done/ }).waitFor();
    await page.getByRole('button', { name: 'Delete Celebrate' }).click();
    await page.getByRole('cell', { name: 'Celebrate', exact: true }).waitFor({ state: 'detached' });
    assert.equal(await app.db.prepare('SELECT count(*) AS n FROM tasks').pluck().get(), 2);

    await page.locator('#filter-limit').fill('1');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.getByText('Page 1: 1 task(s), more on the next page.').waitFor();
    await page.getByRole('button', { name: 'Next page' }).click();
    await page.getByText('Page 2: 1 task(s).').waitFor();
    const log = page.locator('#exchange-log li').first();
    assert.match(await log.innerText(), /GET \/api\/v1\/tasks\?.*cursor=.*200[\s\S]*x-request-id/);
    await page.screenshot({ path: join(artifacts, 'dashboard-admin.png'), fullPage: true });

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByText('Not logged in.').waitFor();
    await page.getByLabel('Username').fill('bob');
    await page.locator('#reg-email').fill('bob@example.com');
    await page.locator('#reg-password').fill('secret123');
    await page.getByRole('button', { name: 'Register' }).click();
    await page.locator('#login-password').fill('wrong-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').getByText(/invalid_credentials/).waitFor();
    await page.locator('#login-password').fill('secret123');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByText('Logged in as bob (user)').waitFor();
    await page.getByRole('cell', { name: 'Ship it', exact: true }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Create task' }).isVisible(), false);
    assert.equal(await page.getByRole('button', { name: /^Delete/ }).count(), 0);

    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    const wide = await page.evaluate<string[]>(`[...document.querySelectorAll('body *')]
      .filter((node) => node.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
      .slice(0, 5)
      .map((node) => node.tagName + '#' + node.id + ' ' + Math.round(node.getBoundingClientRect().right))`);
    assert.ok(overflow <= 0, `no sideways scrolling on a phone (${overflow}px): ${wide.join(', ')}`);
    await page.screenshot({ path: join(artifacts, 'dashboard-phone.png'), fullPage: true });
    assert.deepEqual(await problems(), ['response: 401 /api/v1/auth/login'], 'only the wrong password failed');
    await page.close();
  });

  test('Swagger UI renders the spec and executes a call', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const problems = await watch(page);
    await page.goto(`${app.url}/api-docs`);
    await page.getByRole('heading', { name: /backend-api/ }).first().waitFor();
    await page.locator('#operations-system-getHealth').click();
    await page.getByRole('button', { name: 'Try it out' }).click();
    await page.getByRole('button', { name: 'Execute' }).click();
    const response = page.locator('#operations-system-getHealth .live-responses-table tbody .response-col_status').first();
    await response.waitFor();
    assert.equal((await response.innerText()).trim(), '200');
    await page.screenshot({ path: join(artifacts, 'api-docs.png'), fullPage: false });
    assert.deepEqual(await problems(), []);
    await page.close();
  });
});
