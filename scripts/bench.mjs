#!/usr/bin/env node
// npm run bench: measures the API against reference servers started in the same run, on the same
// SQLite file and the same token, and reports ratios (this machine is shared: absolute numbers
// drift, ratios measured side by side do not). Writes bench-results/<time>.{json,md} and latest.*.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
    scenarios: { type: 'string' },
    quick: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
const SCENARIOS = ['hot-list', 'list-sqlite', 'get-one', 'create', 'mix-90-10', 'login', 'reads-during-logins', 'workers'];
if (flags.help) {
  console.log(`Usage: npm run bench [-- options]

  --seconds N       length of each measurement (default 5)
  --rounds N        interleaved rounds; medians are reported (default 3)
  --connections N   concurrent connections of the load generator (default 32)
  --scenarios a,b   a subset of: ${SCENARIOS.join(', ')}
  --quick           1 second, 1 round: a smoke run

Targets: ours (the API), raw (node:http + better-sqlite3), express (bare Express 5), fastify.`);
  process.exit(0);
}
const seconds = flags.quick ? 1 : Number(flags.seconds);
const rounds = flags.quick ? 1 : Number(flags.rounds);
const connections = Number(flags.connections);
const chosen = flags.scenarios ? flags.scenarios.split(',') : SCENARIOS;
const taskset = spawnSync('sh', ['-c', 'command -v taskset']).status === 0 && availableParallelism() > 1;
const pin = (core, command) => (taskset ? ['taskset', ['-c', core, ...command]] : [command[0], command.slice(1)]);

const dir = mkdtempSync(join(tmpdir(), 'backend-api-bench-'));
const secret = randomBytes(32).toString('base64url');
const baseEnv = {
  PATH: process.env.PATH,
  HOME: process.env.HOME ?? dir,
  NODE_ENV: 'production',
  HOST: '127.0.0.1',
  JWT_SECRET: secret,
  DATABASE_PATH: join(dir, 'app.db'),
  RATE_LIMIT_MAX: '0',
  LOG_DIR: join(dir, 'logs'),
  LOG_LEVEL: 'info',
  BCRYPT_ROUNDS: '10',
};

// The server as it ships for node: the esbuild bundle (better-sqlite3 from node_modules).
console.log('building (npm run build -- --bundle-only)…');
execFileSync(process.execPath, [join(root, 'scripts/build.mjs'), '--bundle-only'], { stdio: ['ignore', 'ignore', 'inherit'] });
const ours = [process.execPath, join(root, 'dist/main.cjs'), 'serve'];

let nextPort = 41000 + Math.floor(Math.random() * 10000);
const children = new Set();
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

/** start runs a server pinned to core 0 (all cores for several workers) and resolves when it answers. */
async function start(name, env = {}, allCores = false) {
  const port = nextPort++;
  const command = name === 'ours' ? ours : [process.execPath, join(root, `scripts/bench/reference-${name}.mjs`)];
  const [file, args] = allCores ? [command[0], command.slice(1)] : pin('0', command);
  const child = spawn(file, args, { env: { ...baseEnv, PORT: String(port), WORKERS: '1', ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  children.add(child);
  for (let i = 0; i < 200; i++) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/ready`);
      if (response.status < 500) break;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  return { name, port, child, url: `http://127.0.0.1:${port}`, stop: () => stop(child) };
}

async function stop(child) {
  children.delete(child);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(15_000)]);
}

/** processTree lists a pid and all its descendants. */
function processTree(pid) {
  const out = spawnSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' }).stdout;
  const pairs = out.trim().split('\n').map((line) => line.trim().split(/\s+/).map(Number));
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) for (const [child, parent] of pairs) if (parent === tree[i]) tree.push(child);
  return tree;
}
const ticks = (pids) => pids.reduce((sum, pid) => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return sum + Number(fields[11]) + Number(fields[12]);
  } catch {
    return sum;
  }
}, 0);
const rssMb = (pid) => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
  } catch {
    return 0;
  }
};

/** measure drives one server for the configured time from core 1 and returns autocannon's figures plus server CPU and RSS. */
async function measure(server, request, extra = {}) {
  const pids = processTree(server.child.pid);
  const before = ticks(pids);
  const options = { url: server.url, connections, duration: seconds, ...request, ...extra };
  const [file, args] = pin('1', [process.execPath, join(root, 'scripts/bench/load.mjs'), JSON.stringify(options)]);
  const started = Date.now();
  const run = await new Promise((resolve) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.once('exit', () => resolve(JSON.parse(out.trim().split('\n').at(-1))));
  });
  const cpuSeconds = (ticks(pids) - before) / 100;
  const workers = pids.slice(server.name === 'ours' ? 1 : 0).filter((pid) => rssMb(pid) > 0);
  return { ...run, cpu: cpuSeconds / ((Date.now() - started) / 1000), rssMb: Math.max(...workers.map(rssMb)), totalRssMb: pids.map(rssMb).reduce((a, b) => a + b, 0) };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
function summarize(samples) {
  const pick = (key) => median(samples.map((s) => s[key]));
  return { rps: pick('rps'), p50: pick('p50'), p99: pick('p99'), errors: samples.reduce((n, s) => n + s.errors + s.non2xx, 0), cpu: pick('cpu'), rssMb: pick('rssMb'), totalRssMb: pick('totalRssMb') };
}

// Seed: the API creates the schema, the first account (admin) and its token; 1 000 tasks go straight into SQLite.
console.log('seeding…');
const seed = await start('ours');
const credentials = { email: 'bench@example.com', password: 'bench-password-1' };
const post = (path, body, token) =>
  fetch(`${seed.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
await post('/api/v1/auth/register', { username: 'bench', ...credentials });
const { token } = await (await post('/api/v1/auth/login', credentials)).json();
await seed.stop();
const Database = createRequire(import.meta.url)('better-sqlite3');
const db = new Database(baseEnv.DATABASE_PATH);
const insert = db.prepare("INSERT INTO tasks (title, description, status, due_date, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?)");
db.transaction(() => {
  for (let i = 0; i < 1000; i++) {
    const at = new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString();
    insert.run(`Task number ${i} with a realistic title`, `A description of task ${i}, long enough to look like real data in a list.`, ['todo', 'in_progress', 'done'][i % 3], '2026-12-31', at, at);
  }
})();
db.close();

const auth = { headers: { authorization: `Bearer ${token}` } };
const create = { method: 'POST', headers: { ...auth.headers, 'content-type': 'application/json' }, body: JSON.stringify({ title: 'created by the bench' }) };
const refs = ['raw', 'express', 'fastify'];
const scenarios = {
  'hot-list': { targets: { ours: {}, ...Object.fromEntries(refs.map((r) => [r, {}])) }, request: (t) => ({ ...auth, url: `${t.url}${t.name === 'ours' ? '/api/v1/tasks' : '/hot'}` }) },
  'list-sqlite': { targets: { ours: { CACHE_ENABLED: 'false' }, ...Object.fromEntries(refs.map((r) => [r, {}])) }, request: (t) => ({ ...auth, url: `${t.url}/api/v1/tasks` }) },
  'get-one': { targets: { ours: { CACHE_ENABLED: 'false' }, ...Object.fromEntries(refs.map((r) => [r, {}])) }, request: (t) => ({ ...auth, url: `${t.url}/api/v1/tasks/500` }) },
  create: { targets: { ours: {}, ...Object.fromEntries(refs.map((r) => [r, {}])) }, request: (t) => ({ ...create, url: `${t.url}/api/v1/tasks` }) },
  'mix-90-10': {
    targets: { ours: {}, express: {} },
    request: (t) => ({ url: t.url, requests: [...Array(9).fill({ ...auth, method: 'GET', path: '/api/v1/tasks' }), { ...create, path: '/api/v1/tasks' }] }),
  },
  login: { targets: { ours: {} }, request: (t) => ({ url: `${t.url}/api/v1/auth/login`, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(credentials), connections: 4 }) },
};

const results = {};
for (const name of chosen.filter((s) => scenarios[s])) {
  const { targets, request } = scenarios[name];
  const samples = Object.fromEntries(Object.keys(targets).map((t) => [t, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [target, env] of Object.entries(targets)) {
      const server = await start(target, env);
      await measure(server, request(server), { duration: 1 }); // warm-up: JIT, caches, connections
      samples[target].push(await measure(server, request(server)));
      await server.stop();
    }
  }
  results[name] = Object.fromEntries(Object.entries(samples).map(([t, s]) => [t, summarize(s)]));
  console.log(`${name}: ${Object.entries(results[name]).map(([t, r]) => `${t} ${Math.round(r.rps)} req/s`).join(', ')}`);
}

if (chosen.includes('reads-during-logins')) {
  const samples = { alone: [], withLogins: [] };
  for (let round = 0; round < rounds; round++) {
    const server = await start('ours', { CACHE_ENABLED: 'false' });
    const reads = { ...auth, url: `${server.url}/api/v1/tasks`, connections: 16 };
    await measure(server, reads, { duration: 1 });
    samples.alone.push(await measure(server, reads));
    const logins = spawn(process.execPath, [join(root, 'scripts/bench/load.mjs'), JSON.stringify({ url: `${server.url}/api/v1/auth/login`, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(credentials), connections: 2, duration: seconds + 1 })], { stdio: 'ignore' });
    await sleep(300);
    samples.withLogins.push(await measure(server, reads));
    await new Promise((resolve) => logins.once('exit', resolve));
    await server.stop();
  }
  results['reads-during-logins'] = { alone: summarize(samples.alone), withLogins: summarize(samples.withLogins) };
  console.log(`reads-during-logins: p99 ${results['reads-during-logins'].alone.p99} ms alone, ${results['reads-during-logins'].withLogins.p99} ms with logins`);
}

if (chosen.includes('workers')) {
  const samples = { one: [], all: [] };
  for (let round = 0; round < rounds; round++) {
    for (const [key, workers] of [['one', '1'], ['all', String(availableParallelism())]]) {
      const server = await start('ours', { CACHE_ENABLED: 'false', WORKERS: workers }, key === 'all');
      const reads = { ...auth, url: `${server.url}/api/v1/tasks` };
      await measure(server, reads, { duration: 1 });
      samples[key].push(await measure(server, reads));
      await server.stop();
    }
  }
  results.workers = { one: summarize(samples.one), all: summarize(samples.all) };
  console.log(`workers: 1 → ${Math.round(results.workers.one.rps)} req/s, ${availableParallelism()} → ${Math.round(results.workers.all.rps)} req/s`);
}

const { report, markdown } = await import('./bench/report.mjs');
const summary = report(results, { seconds, rounds, connections, taskset, cpu: cpus()[0]?.model ?? 'unknown', cores: availableParallelism(), node: process.version });
mkdirSync(join(root, 'bench-results'), { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const text = markdown(summary);
for (const base of [stamp, 'latest']) {
  writeFileSync(join(root, 'bench-results', `${base}.json`), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileSync(join(root, 'bench-results', `${base}.md`), text);
}
console.log(`\n${text}`);
rmSync(dir, { recursive: true, force: true });
if (!existsSync(join(root, 'bench-results', 'latest.json')) || readdirSync(join(root, 'bench-results')).length === 0) process.exit(1);
