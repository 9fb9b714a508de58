// The subject of this file is the built executable, which embeds the pinned Node 24 whichever
// Node runs the test: `npm test -- --except-executable` leaves it out (CI's second runtime).
import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { projectRoot } from '../assets.js';
import { ApiClient } from '../test-support/client.js';
import { freePort } from '../test-support/process.js';
import { VERSION } from '../version.js';
import { RUNTIME } from '../../scripts/node-runtime.mjs';

/**
 * The longest a cold build may take here: esbuild is quick, postject rewrites a ~140 MB binary,
 * and a first build compiles better-sqlite3 for the runtime (minutes on 2 busy cores).
 */
const BUILD_TIMEOUT_MS = 900_000;

describe('the single executable, alone in an empty directory', () => {
  let work: string;
  let binary: string;
  let env: Record<string, string>;
  let server: ChildProcess | undefined;

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'backend-api-binary-'));
    const started = performance.now();
    const build = spawnSync(process.execPath, [join(projectRoot, 'scripts/build.mjs'), '--out', join(work, 'build')], {
      encoding: 'utf8',
      timeout: BUILD_TIMEOUT_MS,
    });
    assert.equal(build.status, 0, `${build.stdout}${build.stderr}`);
    const size = statSync(join(work, 'build', 'backend-api')).size;
    console.log(`build: ${((performance.now() - started) / 1000).toFixed(1)} s, executable ${(size / 1e6).toFixed(1)} MB`);
    // Nothing beside it: no node_modules, no openapi.yaml, no package.json, no public/.
    mkdirSync(join(work, 'run'));
    binary = join(work, 'run', 'backend-api');
    copyFileSync(join(work, 'build', 'backend-api'), binary);
    chmodSync(binary, 0o755);
    env = {
      PATH: process.env.PATH ?? '',
      HOME: join(work, 'home'),
      XDG_CACHE_HOME: join(work, 'cache'),
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      DATABASE_PATH: join(work, 'data', 'app.db'),
      WORKERS: '2',
      LOG_DIR: '',
      LOG_LEVEL: 'info',
      BCRYPT_ROUNDS: '4',
      JWT_SECRET: randomBytes(32).toString('base64url'),
      RATE_LIMIT_MAX: '0',
    };
  }, { timeout: BUILD_TIMEOUT_MS + 60_000 });

  after(() => {
    if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  });

  const run = (args: string[]) => spawnSync(binary, args, { cwd: join(work, 'run'), env, encoding: 'utf8', timeout: 30_000 });

  test('embeds the pinned Node LTS, whatever Node built it; --version says both versions', () => {
    assert.equal(RUNTIME.major, 24);
    assert.equal(run(['--version']).stdout, `backend-api ${VERSION}, Node.js v${RUNTIME.version}\n`);
  });

  test('--help and check-config answer without a database, and never print the secret', () => {
    assert.match(run(['--help']).stdout, /create-admin <username> <email>/);
    const config = run(['check-config']);
    assert.equal(config.status, 0, config.stderr);
    assert.equal(JSON.parse(config.stdout).jwt.secret, '[set]');
    assert.ok(!config.stdout.includes(env.JWT_SECRET!) && !config.stderr.includes(env.JWT_SECRET!));
    assert.deepEqual(readdirSync(join(work, 'run')), ['backend-api']);
  });

  test("serves the README's flow with two workers, backs up the live database, and exits 0 on SIGTERM", async () => {
    const port = await freePort();
    const started = performance.now();
    const child = spawn(binary, [], { cwd: join(work, 'run'), env: { ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
    server = child;
    const log = collectLog(child);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await log.waitFor('primary ready');
    console.log(`ready in ${Math.round(performance.now() - started)} ms`);
    assert.equal(log.records().filter((r) => r.message === 'listening' && r.mode === 'cluster').length, 2);

    const api = new ApiClient(`http://127.0.0.1:${port}`);
    const john = { username: 'john', email: 'john@example.com', password: 'secret123' };
    const registered = await api.post('/api/v1/auth/register', { json: { ...john, role: 'admin' } });
    assert.equal(registered.status, 201, registered.text);
    assert.deepEqual([registered.body.username, registered.body.role], ['john', 'admin']);
    const login = await api.post('/api/v1/auth/login', { json: { email: john.email, password: john.password } });
    assert.equal(login.status, 200, login.text);
    const token = login.body.token as string;
    const created = await api.post('/api/v1/tasks', { token, json: { title: 'My Task' } });
    assert.equal(created.status, 201, created.text);
    assert.deepEqual([created.body.id, created.body.title, created.body.status], [1, 'My Task', 'todo']);
    const listed = await api.get('/api/v1/tasks', { token });
    assert.equal(listed.status, 200);
    assert.deepEqual(
      listed.body.data.map((task: { title: string }) => task.title),
      ['My Task'],
    );

    // The embedded files come out byte for byte.
    const swagger = await fetch(`http://127.0.0.1:${port}/api-docs/swagger-ui-bundle.js`);
    assert.equal(swagger.status, 200);
    assert.ok(Buffer.from(await swagger.arrayBuffer()).equals(readFileSync(join(projectRoot, 'node_modules/swagger-ui-dist/swagger-ui-bundle.js'))));
    const spec = await fetch(`http://127.0.0.1:${port}/openapi.json`);
    assert.equal(((await spec.json()) as { openapi: string }).openapi.slice(0, 2), '3.');

    const backupFile = join(work, 'live-backup.db');
    const backup = run(['backup', backupFile]);
    assert.equal(backup.status, 0, backup.stderr);
    const copy = new Database(backupFile, { readonly: true });
    assert.equal(copy.pragma('integrity_check', { simple: true }), 'ok');
    assert.deepEqual(copy.prepare('SELECT title FROM tasks').pluck().all(), ['My Task']);
    copy.close();

    const removed = await api.delete('/api/v1/tasks/1', { token });
    assert.equal(removed.status, 204);
    assert.equal((await api.get('/api/v1/tasks/1', { token })).status, 404);

    const signalled = performance.now();
    child.kill('SIGTERM');
    assert.equal(await exited, 0, log.text());
    console.log(`stopped ${Math.round(performance.now() - signalled)} ms after SIGTERM`);
    assert.ok(log.records().some((r) => r.message === 'stopped' && r.exitCode === 0));
  });

  test('keeps its SQLite addon in a private cache directory, named by its hash', () => {
    const base = join(work, 'cache', 'backend-api');
    const [hash, ...others] = readdirSync(base);
    assert.equal(others.length, 0);
    assert.match(hash!, /^[0-9a-f]{64}$/);
    assert.equal(statSync(join(base, hash!)).mode & 0o777, 0o700);
    assert.deepEqual(readdirSync(join(base, hash!)), ['better_sqlite3.node'], 'no temporary file left behind');
    assert.equal(statSync(join(base, hash!, 'better_sqlite3.node')).mode & 0o777, 0o500);
  });

  test('refuses a cache directory others may write to, with a clear message', () => {
    const shared = join(work, 'shared-cache');
    mkdirSync(shared, { mode: 0o777 });
    chmodSync(shared, 0o777);
    const refused = spawnSync(binary, ['migrate'], { cwd: join(work, 'run'), env: { ...env, CACHE_DIRECTORY: shared }, encoding: 'utf8', timeout: 30_000 });
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /writable by no one else/);
  });
});

/** collectLog gathers a child's JSON log lines and waits for a message among them. */
function collectLog(child: ChildProcess) {
  let text = '';
  const onData = (chunk: Buffer) => void (text += chunk.toString());
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const records = () =>
    text
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, any>);
  return {
    text: () => text,
    records,
    async waitFor(message: string, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!records().some((r) => r.message === message)) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`no "${message}" log line; output:\n${text.slice(-4000)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
  };
}
