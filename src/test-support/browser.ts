import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { projectRoot } from '../assets.js';

const CHROMIUM = '/usr/bin/chromium';

/** Why the browser tests cannot run here (null when they can); in CI a missing Chromium fails the run instead. */
export const chromiumMissing = existsSync(CHROMIUM) ? null : 'Debian chromium is not installed (apt-get install chromium)';
if (chromiumMissing && process.env.CI === 'true') throw new Error(`${chromiumMissing}; CI never skips the browser tests`);

/** Where the browser tests keep their screenshots. */
export const artifacts = join(projectRoot, 'test-results');

/** launchChromium starts Debian's Chromium headless, without the background traffic of a desktop browser. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * watch collects what a page must never produce: console errors, uncaught errors, CSP violations,
 * and failed responses. Chromium logs every 4xx fetch as a console error; those are reported once,
 * as failed responses with their URL, so a test can allow the one it provoked.
 */
export async function watch(page: Page): Promise<() => Promise<string[]>> {
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

/** sidewaysOverflow is how many pixels the page scrolls sideways (0 or less: none), with the widest elements to blame. */
export async function sidewaysOverflow(page: Page): Promise<{ overflow: number; wide: string[] }> {
  const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
  const wide = await page.evaluate<string[]>(`[...document.querySelectorAll('body *')]
    .filter((node) => node.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
    .slice(0, 5)
    .map((node) => node.tagName + '#' + node.id + ' ' + Math.round(node.getBoundingClientRect().right))`);
  return { overflow, wide };
}
