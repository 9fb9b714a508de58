import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { projectRoot } from '../assets.js';
import { schemaVersion } from '../db/migrations.js';
import { PUBLISH_INTERVAL_MS } from './pm2-metrics.js';
import { testEnv } from '../test-support/app.js';
import { runLoad } from '../test-support/load.js';
import { sumSamples } from '../test-support/metrics-text.js';
import { freePort } from '../test-support/process.js';
import { METRICS_TOKEN, oneConnection } from '../test-support/status.js';

const require = createRequire(import.meta.url);
const pm2Bin = join(projectRoot, 'node_modules', '.bin', 'pm2');
const ecosystem = require(join(projectRoot, 'ecosystem.config.cjs')) as { apps: Array<Record<string, unknown>> };

// The ecosystem file runs the bundle, as the README says: npm run build first (the bundle is enough).
before(() => {
  const build = spawnSync(process.execPath, [join(projectRoot, 'scripts/build.mjs'), '--bundle-only'], { cwd: projectRoot, encoding: 'utf8', timeout: 120_000 });
  assert.equal(build.status, 0, `${build.stdout}${build.stderr}`);
});

/** pm2Harness starts the ecosystem file under a PM2 of its own (its own PM2_HOME) for a describe block. */
function pm2Harness(overrides: Record<string, string>, { waitOnline = true } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'backend-api-pm2-'));
  const env: Record<string, string> = {};
  const state = { port: 0 };
  const pm2 = (...args: string[]) => {
    const run = spawnSync(pm2Bin, args, { cwd: projectRoot, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
    if (run.status !== 0) throw new Error(`pm2 ${args.join(' ')}: ${run.stdout}\n${run.stderr}`);
    return run.stdout;
  };
  /** The lines PM2 collected from the instances, without the per-request ones. */
  const lifecycleLines = () =>
    readdirSync(join(dir, 'pm2', 'logs'))
      .flatMap((f) => readFileSync(join(dir, 'pm2', 'logs', f), 'utf8').split('\n'))
      .filter((line) => !line.includes('"message":"request"'));
  const online = () => (JSON.parse(pm2('jlist')) as Array<{ pm2_env: { status: string } }>).filter((p) => p.pm2_env.status === 'online');

  before(async () => {
    state.port = await freePort();
    Object.assign(env, testEnv(dir, { PORT: String(state.port), WORKERS: '2', LOG_LEVEL: 'info', ...overrides }), { PM2_HOME: join(dir, 'pm2') });
    // The daemon first, so that the time below is the instances' own start.
    pm2('ping');
    const started = performance.now();
    pm2('start', join(projectRoot, 'ecosystem.config.cjs'));
    if (!waitOnline) return;
    for (let i = 0; i < 400 && !(await answers(`http://127.0.0.1:${state.port}/health`)); i++) await sleep(50);
    console.log(`pm2 start: first /health answered ${Math.round(performance.now() - started)} ms after pm2 start was run`);
    for (let i = 0; i < 100 && online().length < 2; i++) await sleep(200);
    console.log(`pm2 start: both instances online after ${Math.round(performance.now() - started)} ms`);
  });
  after(() => {
    spawnSync(pm2Bin, ['kill'], { env: { ...process.env, ...env }, timeout: 30_000 });
  });
  return {
    dir,
    env,
    get port() {
      return state.port;
    },
    pm2,
    lifecycleLines,
    online,
  };
}

/** answers tells whether a URL answers 200 now. */
async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(1000) })).status === 200;
  } catch {
    return false;
  }
}

describe('PM2 cluster mode', () => {
  test('ecosystem.config.cjs uses only keys of PM2 schema, with the types it declares', () => {
    const schema = require('pm2/lib/API/schema.json') as Record<string, { type?: string | string[] }>;
    const typeOf = (value: unknown) => (Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value);
    const aliases = new Map<string, string>(
      Object.entries(schema).flatMap(([name, entry]) => [
        [name, name] as [string, string],
        ...[(entry as { alias?: string | string[] }).alias ?? []].flat().map((alias) => [alias, name] as [string, string]),
      ]),
    );
    for (const app of ecosystem.apps) {
      for (const [key, value] of Object.entries(app)) {
        const entry = schema[aliases.get(key) ?? key];
        assert.ok(entry, `${key} is not a PM2 option`);
        const types = [entry.type ?? []].flat();
        if (types.length) assert.ok(types.includes(typeOf(value)), `${key}: ${typeOf(value)} is not one of ${types}`);
      }
      assert.equal(app.exec_mode, 'cluster');
      assert.equal(app.script, join(projectRoot, 'dist', 'main.cjs'), 'the bundle npm run build writes, not the TypeScript source');
      assert.equal(app.interpreter ?? 'node', 'node');
      assert.equal(app.node_args, undefined, 'no tsx loader');
      assert.deepEqual(app.stop_exit_codes, [78]);
      assert.equal(app.wait_ready, true);
      assert.ok((app.kill_timeout as number) > 10_000, 'kill_timeout above the drain limit');
    }
  });

  describe('running under pm2', () => {
    const harness = pm2Harness({ METRICS_TOKEN });
    const { dir, env, pm2, lifecycleLines, online } = harness;

    test('starts two instances that migrated the database exactly once', async () => {
      assert.equal(online().length, 2);
      const health = await fetch(`http://127.0.0.1:${harness.port}/health`);
      assert.equal(health.status, 200);
      const migrated = lifecycleLines().filter((line) => line.includes('"message":"migrated"'));
      assert.equal(migrated.length, 1, migrated.join('\n'));
      const db = new Database(join(dir, 'data', 'app.db'), { readonly: true });
      assert.equal(db.pragma('user_version', { simple: true }), schemaVersion);
      db.close();
    });

    test('a scrape of /metrics counts the requests of every instance (through the SQLite file they share)', async () => {
      const base = `http://127.0.0.1:${harness.port}`;
      const requests = 40;
      for (let i = 0; i < requests; i++) {
        // A new connection each time, so PM2 spreads the requests over both instances.
        const response = await fetch(`${base}/api/v1/tasks`, { headers: { connection: 'close' } });
        assert.equal(response.status, 401);
      }
      const servedBy = new Set(
        readdirSync(join(dir, 'pm2', 'logs'))
          .flatMap((f) => readFileSync(join(dir, 'pm2', 'logs', f), 'utf8').split('\n'))
          .filter((line) => line.includes('"message":"request"') && line.includes('"route":"/api/v1/tasks"'))
          .map((line) => (JSON.parse(line) as { pid: number }).pid),
      );
      assert.equal(servedBy.size, 2, 'both instances answered some');
      // The instance that does not answer the scrape publishes its counts every few seconds.
      await sleep(PUBLISH_INTERVAL_MS + 1000);
      const scrape = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
      assert.equal(scrape.status, 200);
      const text = await scrape.text();
      assert.equal(sumSamples(text, 'http_requests_total', { method: 'GET', route: '/api/v1/tasks', status: '401' }), requests, text.slice(0, 3000));
      const refused = await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer wrong' } });
      assert.equal(refused.status, 401);
    });

    test('pm2 reload under load fails no request', async () => {
      const base = `http://127.0.0.1:${harness.port}`;
      const credentials = { email: 'admin@example.com', password: 'secret123' };
      const headers = { 'content-type': 'application/json' };
      await fetch(`${base}/api/v1/auth/register`, { method: 'POST', headers, body: JSON.stringify({ username: 'admin', ...credentials }) });
      const login = await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers, body: JSON.stringify(credentials) });
      const { token } = (await login.json()) as { token: string };
      let done = false;
      const load = runLoad({
        baseUrl: base,
        concurrency: 8,
        durationMs: 40_000,
        next: (i) => (i % 10 === 0 ? { method: 'POST', path: '/api/v1/tasks', token, json: { title: `t${i}` } } : { method: 'GET', path: '/api/v1/tasks', token }),
        stop: () => done,
      });
      await sleep(500);
      const before = (JSON.parse(pm2('jlist')) as Array<{ pid: number }>).map((p) => p.pid);
      const reloadStart = Date.now();
      // Not spawnSync: the load generator shares this event loop and must keep running.
      await promisify(execFile)(pm2Bin, ['reload', 'backend-api'], { cwd: projectRoot, env: { ...process.env, ...env }, timeout: 60_000 });
      console.log(`pm2 reload of 2 instances under load: ${((Date.now() - reloadStart) / 1000).toFixed(1)} s`);
      const steps = lifecycleLines().filter((line) => /"message":"(listening|draining|drained|migrated)"/.test(line) && Date.parse(line.match(/"timestamp":"([^"]+)"/)?.[1] ?? '') >= reloadStart);
      console.log(steps.map((line) => line.replace(/.*"message":"(\w+)".*"pid":(\d+).*"timestamp":"[^T]+T([^"]+)".*/, '$3 $2 $1')).join('\n'));
      await sleep(500);
      done = true;
      const result = await load;
      const now = (JSON.parse(pm2('jlist')) as Array<{ pid: number }>).map((p) => p.pid);
      console.log(`pm2 reload: ${JSON.stringify(result.statuses)}; ${result.failures.length} failures; pids ${before} → ${now}`);
      const failedAt = result.failures.slice(0, 3).map((f) => new Date(f.startedAt).toISOString());
      assert.equal(result.failures.length, 0, `${JSON.stringify(failedAt)}\n${lifecycleLines().join('\n').slice(-5000)}`);
      assert.deepEqual(Object.keys(result.statuses).sort(), ['200', '201']);
      assert.ok(now.every((pid) => !before.includes(pid)), 'every instance was replaced');
    });

    test('the status view covers the instance that answers, within what /metrics counts for every instance', async () => {
      const base = `http://127.0.0.1:${harness.port}`;
      const headers = { 'content-type': 'application/json' };
      const login = await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers, body: JSON.stringify({ email: 'admin@example.com', password: 'secret123' }) });
      const { token } = (await login.json()) as { token: string };
      const instance = oneConnection(base);
      try {
        for (let i = 0; i < 20; i++) assert.equal((await instance.get('/api/v1/tasks', token)).status, 200);
        const sent = Date.now();
        let status = (await instance.get('/api/v1/status', token)).body;
        for (let i = 0; i < 50 && Date.parse(status.sampledAt ?? '0') <= sent + 100; i++) {
          await sleep(200);
          status = (await instance.get('/api/v1/status', token)).body;
        }
        const metrics = await instance.get('/metrics', METRICS_TOKEN);
        assert.equal(metrics.status, 200);
        const pids = (JSON.parse(pm2('jlist')) as Array<{ pid: number }>).map((p) => p.pid);
        assert.equal(status.mode, 'pm2');
        assert.equal(status.primary, null);
        assert.equal(status.workers.length, 1);
        assert.ok(pids.includes(status.workers[0].pid), `${status.workers[0].pid} is one of ${pids}`);
        const tasks = status.routes.find((r: { route: string }) => r.route === '/api/v1/tasks');
        assert.ok(tasks.requests >= 20);
        // /metrics sums every instance (through the shared file); the status view is this one's.
        assert.ok(tasks.requests <= sumSamples(metrics.text, 'http_requests_total', { method: 'GET', route: '/api/v1/tasks' }));
      } finally {
        instance.close();
      }
    });
  });

  describe('without JWT_SECRET in production', () => {
    const harness = pm2Harness({ NODE_ENV: 'production', JWT_SECRET: '' }, { waitOnline: false });

    test('the instances exit 78 and PM2 does not restart them (stop_exit_codes)', async () => {
      type Proc = { pid: number; pm2_env: { restart_time: number; exit_code?: number } };
      const list = () => JSON.parse(harness.pm2('jlist')) as Proc[];
      const exited = () => list().filter((p) => p.pm2_env.exit_code === 78).length;
      for (let i = 0; i < 60 && exited() < 2; i++) await sleep(500);
      // Long enough for PM2's restart delay (exp_backoff_restart_delay starts at 100 ms) many times over.
      await sleep(3000);
      const procs = list();
      assert.equal(procs.length, 2);
      // PM2 may still label such an instance "online"; its pid 0 and restart count say what happened.
      for (const proc of procs) assert.deepEqual([proc.pid, proc.pm2_env.restart_time, proc.pm2_env.exit_code], [0, 0, 78]);
      assert.match(harness.lifecycleLines().join('\n'), /JWT_SECRET is required in production/);
    });
  });

  describe('without Redis', () => {
    const harness = pm2Harness({ RATE_LIMIT_MAX: '30', RATE_LIMIT_WINDOW_SECONDS: '120' });

    test('the instances share one rate limit through SQLite: request N+1 is 429', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 31; i++) {
        // A new connection each time, so PM2 spreads the requests over both instances.
        const response = await fetch(`http://127.0.0.1:${harness.port}/api/v1/tasks`, { headers: { connection: 'close' } });
        statuses.push(response.status);
      }
      assert.deepEqual(statuses.slice(0, 30), Array(30).fill(401));
      assert.equal(statuses[30], 429);
      const pids = new Set(
        readdirSync(join(harness.dir, 'pm2', 'logs'))
          .flatMap((f) => readFileSync(join(harness.dir, 'pm2', 'logs', f), 'utf8').split('\n'))
          .filter((line) => line.includes('"message":"request"'))
          .map((line) => (JSON.parse(line) as { pid: number }).pid),
      );
      assert.equal(pids.size, 2, 'both instances counted requests');
    });
  });

  describe('login protection', () => {
    const harness = pm2Harness({ RATE_LIMIT_LOGIN_CONSECUTIVE_FAILS: '5', RATE_LIMIT_LOGIN_BLOCK_SECONDS: '3600' });

    test('60 parallel logins for one account from one address: at most 5 reach bcrypt, the right password after is 429', async () => {
      const base = `http://127.0.0.1:${harness.port}`;
      const victim = { email: 'victim@example.com', password: 'secret123' };
      const post = (path: string, body: object) =>
        fetch(`${base}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.50', connection: 'close' },
          body: JSON.stringify(body),
        });
      assert.equal((await post('/api/v1/auth/register', { username: 'victim', ...victim })).status, 201);
      const statuses = await Promise.all(
        Array.from({ length: 60 }, (_, i) => post('/api/v1/auth/login', { email: victim.email, password: i === 45 ? victim.password : `wrong-${i}` }).then((r) => r.status)),
      );
      const checked = statuses.filter((s) => s === 401).length;
      console.log(`pm2 login burst: ${checked} × 401, ${statuses.filter((s) => s === 429).length} × 429`);
      assert.ok(statuses.every((s) => s === 401 || s === 429), String(statuses));
      assert.ok(checked <= 5, `${checked} guesses were checked`);
      assert.equal(statuses[45], 429);
      const after = await post('/api/v1/auth/login', victim);
      assert.equal(after.status, 429);
      assert.ok(Number(after.headers.get('retry-after')) > 60);
    });
  });
});
