import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startTestApp, type TestApp } from '../test-support/app.js';
import { artifacts, chromiumMissing, launchChromium, sidewaysOverflow, watch } from '../test-support/browser.js';

/** register signs up through the page's form and waits until it has filled in the login form. */
async function register(page: Page, name: string) {
  await page.getByLabel('Username').fill(name);
  await page.locator('#reg-email').fill(`${name}@example.com`);
  await page.locator('#reg-password').fill('secret123');
  await page.getByRole('button', { name: 'Register' }).click();
  // Polled from here: waitForFunction evaluates its predicate in the page, which the CSP forbids.
  for (let i = 0; i < 100 && (await page.locator('#login-email').inputValue()) !== `${name}@example.com`; i++) await page.waitForTimeout(50);
  assert.equal(await page.locator('#login-email').inputValue(), `${name}@example.com`, 'registering fills in the login form');
}

describe('the dashboard and the API docs in Chromium', { skip: chromiumMissing ?? false }, () => {
  let app: TestApp;
  let browser: Browser;
  before(async () => {
    mkdirSync(artifacts, { recursive: true });
    // Rate limiting on, so that the page has RateLimit headers to show.
    app = await startTestApp({ RATE_LIMIT_MAX: '10000' });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await app?.close();
  });

  test('register the first user (admin), manage tasks, then a user sees no admin controls, and a failed login is shown', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems = await watch(page);
    await page.goto(`${app.url}/`);

    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate('getComputedStyle(document.activeElement).outlineStyle'), 'solid', 'keyboard focus is visible');

    await register(page, 'alice');
    await page.locator('#login-password').fill('secret123');
    await page.keyboard.press('Enter');
    await page.getByText('Logged in as alice (admin)').waitFor();
    assert.equal(await page.evaluate('localStorage.length'), 0, 'the token is not in localStorage');
    assert.ok(await page.evaluate('sessionStorage.getItem("token")'));

    for (const title of ['Write the tests', 'Ship it', 'Celebrate', '<img src=x onerror=alert(1)>']) {
      await page.getByLabel('Title').fill(title);
      await page.getByRole('button', { name: 'Create task' }).click();
      await page.getByRole('cell', { name: title, exact: true }).waitFor();
    }
    assert.equal(await page.locator('#task-rows img').count(), 0, 'API data is text, never markup');
    const row = page.getByRole('row', { name: /Write the tests/ });
    await row.getByLabel('Status of Write the tests').selectOption('done');
    await row.getByRole('button', { name: 'Save status' }).click();
    await page.getByRole('row', { name: /Write the tests.*done/ }).waitFor();
    await page.getByRole('button', { name: 'Delete Celebrate' }).click();
    await page.getByRole('cell', { name: 'Celebrate', exact: true }).waitFor({ state: 'detached' });
    assert.equal(await app.db.prepare('SELECT count(*) AS n FROM tasks').pluck().get(), 3);

    await page.getByLabel('Sort by').selectOption('title');
    await page.getByLabel('Order').selectOption('asc');
    await page.getByLabel('Per page').fill('2');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.getByText('Page 1: 2 task(s), more on the next page.').waitFor();
    // A filter changed without "Show" must not be mixed with the cursor of the shown list.
    await page.getByLabel('Sort by').selectOption('updatedAt');
    await page.getByRole('button', { name: 'Next page' }).click();
    await page.getByText('Page 2: 1 task(s).').waitFor();
    assert.deepEqual(await page.locator('#task-rows td:first-child').allTextContents(), ['Write the tests']);
    const latest = page.locator('#exchange-log details[open]');
    assert.equal(await latest.count(), 1, 'only the newest exchange is open');
    const exchange = await latest.innerText();
    assert.match(exchange, /^GET \/api\/v1\/tasks\?sort=title&order=asc&limit=2&cursor=\S+ → 200 OK/);
    for (const header of ['x-cache', 'ratelimit-policy', 'ratelimit', 'x-request-id']) assert.match(exchange, new RegExp(`^${header}\n`, 'm'), header);
    await page.getByRole('button', { name: 'Previous page' }).click();
    await page.getByText('Page 1: 2 task(s), more on the next page.').waitFor();
    assert.doesNotMatch(await page.locator('#exchange-log').innerText(), /secret123/, 'passwords are masked in the log');
    await page.evaluate('window.scrollTo(0, 0)');
    await page.screenshot({ path: join(artifacts, 'dashboard-admin.png'), fullPage: true });

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByText('Not logged in.').waitFor();
    assert.equal(await page.evaluate('sessionStorage.length'), 0);
    assert.equal(await page.locator('#task-rows tr').count(), 0, "the admin's list, with its buttons, is gone from the page");
    await page.getByLabel('Username').fill('no spaces allowed');
    await page.locator('#reg-email').fill('bob@example.com');
    await page.locator('#reg-password').fill('secret123');
    await page.getByRole('button', { name: 'Register' }).click();
    const alert = page.getByRole('alert');
    await alert.getByText('code: validation_failed').waitFor();
    assert.match(await alert.innerText(), /body \/username: must match pattern/, 'the errors[] list is shown');
    await alert.screenshot({ path: join(artifacts, 'dashboard-problem.png') });
    await register(page, 'bob');
    await page.locator('#login-password').fill('wrong-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await alert.getByText('code: invalid_credentials').waitFor();
    assert.match(await alert.innerText(), / — 401\n/, 'the title and status head the problem');
    await page.locator('#login-password').fill('secret123');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByText('Logged in as bob (user)').waitFor();
    assert.equal(await alert.isVisible(), false, 'a success clears the problem');
    await page.getByRole('cell', { name: 'Ship it', exact: true }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Create task' }).isVisible(), false);
    assert.equal(await page.getByRole('button', { name: /^Delete/ }).count(), 0);
    assert.equal(await page.getByRole('columnheader', { name: 'Actions' }).isVisible(), false);

    await page.setViewportSize({ width: 390, height: 844 });
    const { overflow, wide } = await sidewaysOverflow(page);
    assert.ok(overflow <= 0, `no sideways scrolling on a phone (${overflow}px): ${wide.join(', ')}`);
    await page.screenshot({ path: join(artifacts, 'dashboard-phone.png'), fullPage: true });
    assert.deepEqual(await problems(), ['response: 400 /api/v1/auth/register', 'response: 401 /api/v1/auth/login'], 'only the provoked requests failed');
    await page.close();
  });

  test('Swagger UI renders the spec, calls /health, and lists tasks with a token from the Authorize dialog', async () => {
    const user = await app.api.signUp('user');
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const problems = await watch(page);
    await page.goto(`${app.url}/api-docs`);
    await page.getByRole('heading', { name: /backend-api/ }).first().waitFor();
    await page.screenshot({ path: join(artifacts, 'api-docs.png'), fullPage: false });

    const health = page.locator('#operations-system-getHealth');
    await health.locator('.opblock-summary').click();
    await health.getByRole('button', { name: 'Try it out' }).click();
    await health.getByRole('button', { name: 'Execute' }).click();
    const healthStatus = health.locator('.live-responses-table tbody .response-col_status').first();
    await healthStatus.waitFor();
    assert.equal((await healthStatus.innerText()).trim(), '200');

    await page.locator('.auth-wrapper .btn.authorize').click();
    const dialog = page.locator('.modal-ux');
    await dialog.locator('input[aria-label="auth-bearer-value"]').first().waitFor();
    const bearer = dialog.locator('form', { hasText: 'bearerAuth' });
    await bearer.locator('input[aria-label="auth-bearer-value"]').fill(user.token);
    await bearer.getByRole('button', { name: 'Apply credentials' }).click();
    await bearer.getByRole('button', { name: 'Remove authorization' }).waitFor();
    await dialog.getByRole('button', { name: 'Close' }).first().click();
    assert.equal(await page.evaluate('localStorage.getItem("authorized")'), null, 'the token is not persisted');

    const list = page.locator('#operations-tasks-listTasks');
    await list.locator('.opblock-summary').click();
    await list.getByRole('button', { name: 'Try it out' }).click();
    await list.getByRole('button', { name: 'Execute' }).click();
    const listStatus = list.locator('.live-responses-table tbody .response-col_status').first();
    await listStatus.waitFor();
    assert.equal((await listStatus.innerText()).trim(), '200', await list.locator('.curl-command').innerText());
    assert.match(await list.locator('.request-url pre, .curl-command').first().innerText(), /\/api\/v1\/tasks/);
    assert.match(await list.locator('.curl-command').innerText(), /Authorization: Bearer/);
    await list.locator('.live-responses-table').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(artifacts, 'api-docs-try-it-out.png'), fullPage: false });
    assert.deepEqual(await problems(), []);
    await page.close();
  });
});
