#!/usr/bin/env node
// npm run bench: measures the API against reference servers started in the same run, on the same
// SQLite file and with the same tokens, and reports ratios: this machine is shared, so absolute
// numbers drift, while runs interleaved a few seconds apart drift together.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { summarizeProfiles } from './bench/cpu-profile.mjs';
import { check, measure, startLoadGenerator } from './bench/measure.mjs';
import { markdown, report } from './bench/report.mjs';
import { REFERENCES, SCENARIOS, targetsOf } from './bench/scenarios.mjs';
import { startRedis } from './bench/redis.mjs';
import { prepareRuntime, runtimeNames } from './bench/runtime.mjs';
import { reset, seed, SEED_TASKS } from './bench/seed.mjs';
import { oursCommand, pinning, startServer, workerMemory } from './bench/targets.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const HELP = `Usage: npm run bench [-- options]

Starts our server (the bundle dist/main.cjs if \`npm run build\` made one, else the source through
tsx) and three references on one seeded SQLite file: raw node:http + better-sqlite3, bare Express 5
and Fastify 5. Each round runs every scenario against every target in turn; the report has medians,
ratios (ours ÷ each reference) and PASS/MISS for the targets of issue 7. It is a measurement: it
exits 0 whatever the numbers, and 1 only when something crashed or failed.

  --seconds N        length of each measurement (default 5)
  --warmup N         seconds of load before each measurement, not counted (default 1)
  --rounds N         interleaved rounds; medians are reported (default 3)
  --connections N    autocannon connections (default 32; logins use 2 per worker)
  --scenarios a,b    a subset of: ${SCENARIOS.map((s) => s.name).join(', ')}
  --quick            a smoke run: 1 s, 0.25 s warm-up, 1 round
  --bcrypt-rounds N  BCRYPT_ROUNDS of our server (default 12, the production default)
  --node LIST        the Node that runs every server: 24 (the pinned runtime the executable ships,
                     scripts/node-runtime.mjs), current (the Node running the bench) or both, as
                     24,current: the whole run once per runtime, one report (default 24, or
                     current with --source)
  --env NAME=VALUE   add to our servers' environment (repeatable), e.g. to measure a setting
  --source           run our server from source even when dist/main.cjs exists (current Node only)
  --build            bundle the source as it is now (npm run build -- --bundle-only, into
                     bench-results/.bundle/, dist/ untouched) and run that
  --cpu-prof DIR     profile every server (node --cpu-prof; each of our workers too) into
                     DIR/<target> and print where the time went
  --out DIR          where the report goes (default bench-results/)
  --help             this text

Writes <out>/<time>.json and .md, and <out>/latest.json and latest.md.`;

let flags;
try {
  flags = parseArgs({
    options: {
      seconds: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
      rounds: { type: 'string', default: '3' },
      connections: { type: 'string', default: '32' },
      scenarios: { type: 'string' },
      quick: { type: 'boolean', default: false },
      'bcrypt-rounds': { type: 'string', default: '12' },
      source: { type: 'boolean', default: false },
      node: { type: 'string' },
      env: { type: 'string', multiple: true, default: [] },
      build: { type: 'boolean', default: false },
      'cpu-prof': { type: 'string' },
      out: { type: 'string', default: join(root, 'bench-results') },
      help: { type: 'boolean', default: false },
    },
  }).values;
} catch (error) {
  usage(error.message);
}
if (flags.help) {
  console.log(HELP);
  process.exit(0);
}

function usage(message) {
  console.error(`bench: ${message}\n\n${HELP}`);
  process.exit(2);
}

const number = (name, min, max, value = flags[name]) => {
  const n = Number(value);
  if (!(n >= min && n <= max)) usage(`--${name} must be a number from ${min} to ${max} (got "${value}")`);
  return n;
};
const seconds = flags.quick ? 1 : number('seconds', 0.5, 600);
const warmupSeconds = flags.quick ? 0.25 : number('warmup', 0, 60);
const rounds = flags.quick ? 1 : Math.round(number('rounds', 1, 50));
const connections = Math.round(number('connections', 1, 10_000));
const bcryptRounds = Math.round(number('bcrypt-rounds', 4, 15));
const names = flags.scenarios ? flags.scenarios.split(',').map((s) => s.trim()) : SCENARIOS.map((s) => s.name);
const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n));
if (unknown.length) usage(`unknown scenario(s): ${unknown.join(', ')}`);
const scenarios = SCENARIOS.filter((s) => names.includes(s.name));
const defaultWorkers = availableParallelism();
const profileDir = flags['cpu-prof'] ? resolve(flags['cpu-prof']) : null;
const extraEnv = Object.fromEntries(
  flags.env.map((pair) => {
    const at = pair.indexOf('=');
    if (at < 1) usage(`--env takes NAME=VALUE (got "${pair}")`);
    return [pair.slice(0, at), pair.slice(at + 1)];
  }),
);
let runtimes;
try {
  runtimes = runtimeNames(flags.node ?? (flags.source ? 'current' : '24'));
} catch (error) {
  usage(error.message);
}

const dir = mkdtempSync(join(tmpdir(), 'backend-api-bench-'));
const databasePath = join(dir, 'bench.db');
const baseEnv = {
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? dir,
  NODE_ENV: 'production',
  HOST: '127.0.0.1',
  JWT_SECRET: (await import('node:crypto')).randomBytes(48).toString('base64url'),
  JWT_EXPIRES_IN: '12h',
  DATABASE_PATH: databasePath,
};
const ownBundle = join(root, 'bench-results/.bundle');
const bundle = flags.build ? join(ownBundle, 'main.cjs') : undefined;
const ours = oursCommand({ source: flags.source, bundle });
const servers = new Map();
let load;
let redis = null;
let runtime = null;
const startedAt = Date.now();
const elapsed = () => `${((Date.now() - startedAt) / 1000).toFixed(1)} s`;
/** The global limit of the rate-limit scenario: far above what the bench sends, so it counts every request and refuses none. */
const BENCH_RATE_LIMIT = { RATE_LIMIT_MAX: '10000000', RATE_LIMIT_WINDOW_SECONDS: '60' };

/**
 * serverOf describes the server that answers a scenario's target: a reference, or one of ours,
 * keyed ours-<cached|uncached>-<1|default>, plus -all-cores for a single worker left unpinned,
 * -redis with REDIS_URL, -limited with the global rate limit on.
 */
function serverOf(scenario, target) {
  if (REFERENCES.includes(target)) return { key: target };
  const workers = target === 'ours-default' ? 'default' : '1';
  const allCores = target.endsWith('-all-cores');
  const withRedis = target === 'redis' || target === 'limited-redis';
  const limited = target.startsWith('limited');
  const key = `ours-${scenario.ours}-${workers}${allCores ? '-all-cores' : ''}${withRedis ? '-redis' : ''}${limited ? '-limited' : ''}`;
  return { key, ours: { cached: scenario.ours === 'cached', workers, allCores, withRedis, limited } };
}

/** profiling is node's arguments to profile one server (cluster workers inherit them). */
function profiling(key) {
  return profileDir ? ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, runtime.name, key)}`] : [];
}

/** withRuntime runs a command (node first) on the runtime being measured. */
function withRuntime(command) {
  return [runtime.node, ...command.slice(1)];
}

/**
 * startOurs runs our server the way production does, apart from the rate limit, the bcrypt
 * queue's wait bound and its own log directory. The login scenarios drive bcrypt at saturation
 * with every server on one core: the bound (2 s by default) would shed that load with 503s,
 * which is its job, but then the bench would measure refusals instead of logins. The rate limit
 * is off but in the rate-limit scenario, where it is on with a budget too large to refuse.
 */
function startOurs(key, { cached, workers, allCores, withRedis, limited }) {
  const { command } = oursCommand({ source: flags.source, bundle: runtime.bundle, nodeArgs: profiling(key) });
  const env = {
    ...baseEnv,
    RATE_LIMIT_MAX: '0',
    ...(limited ? BENCH_RATE_LIMIT : {}),
    ...(withRedis ? { REDIS_URL: redis.url } : {}),
    BCRYPT_MAX_WAIT_MS: '60000',
    LOG_DIR: join(dir, 'logs', runtime.name, key),
    LOG_LEVEL: 'info',
    BCRYPT_ROUNDS: String(bcryptRounds),
    CACHE_ENABLED: String(cached),
    ...(workers === '1' ? { WORKERS: '1' } : {}),
    ...extraEnv,
  };
  // WORKERS unset gets every core; a single worker is kept off the load generator's core unless told otherwise.
  return startServer({ name: key, command: withRuntime(command), env, core: workers === '1' && !allCores ? 0 : null });
}

async function main() {
  if (flags.build) {
    const build = spawnSync(process.execPath, [join(root, 'scripts/build.mjs'), '--bundle-only', '--out', ownBundle], { stdio: 'inherit' });
    if (build.status !== 0) throw new Error('--build: the bundle did not build');
    Object.assign(ours, oursCommand({ source: flags.source, bundle }));
  }
  console.log(`bench: our server runs from the ${ours.runs}`);
  const warnings = ours.stale ? ['our bundle is older than the source: it measured code that changed since (run `npm run build`, or pass --build or --source)'] : [];
  for (const w of warnings) console.warn(`bench: ${w}`);
  load = await startLoadGenerator(1);
  redis = await startRedis();
  if (!redis) warnings.push('redis-server is not installed: the rate-limit scenario ran without its Redis targets');

  const runs = [];
  for (const name of runtimes) {
    runtime = { name, ...prepareRuntime(name, { bundle: ours.bundle, dir: join(dir, `runtime-${name}`), log: (line) => console.log(`bench: ${line}`) }) };
    console.log(`bench: servers on ${runtime.label}`);
    runs.push(await runOn(warnings));
    rmSync(databasePath, { force: true });
    for (const suffix of ['-wal', '-shm']) rmSync(`${databasePath}${suffix}`, { force: true });
  }
  load.stop();
  redis?.child.kill('SIGTERM');

  const summary = {
    date: new Date().toISOString(),
    ours: { runs: ours.runs, stale: ours.stale },
    benchNode: process.version,
    runs,
    warnings,
  };
  const text = markdown(summary);
  mkdirSync(flags.out, { recursive: true });
  const stamp = summary.date.replace(/[:.]/g, '-');
  for (const base of [stamp, 'latest']) {
    writeFileSync(join(flags.out, `${base}.json`), `${JSON.stringify(summary, null, 2)}\n`);
    writeFileSync(join(flags.out, `${base}.md`), text);
  }
  console.log(`\n${text}\nbench: wrote ${join(flags.out, `${stamp}.{json,md}`)} and latest.{json,md}`);
}

/** runOn measures every scenario with every server on the current runtime and returns its report. */
async function runOn(warnings) {
  const runTargets = (s) => targetsOf(s, defaultWorkers, pinning).filter((t) => redis || !t.endsWith('redis'));
  const specs = new Map(scenarios.flatMap((s) => runTargets(s).map((t) => serverOf(s, t))).map((spec) => [spec.key, spec]));
  const oursKeys = [...specs.keys()].filter((k) => specs.get(k).ours);
  // The first of ours makes the schema; the accounts and tasks must exist before the references start.
  const first = oursKeys.includes('ours-cached-1') ? 'ours-cached-1' : oursKeys[0];
  servers.set(first, await startOurs(first, specs.get(first).ours));
  const tokens = await seed(servers.get(first).url, databasePath);
  await Promise.all(
    [...specs.values()].filter(({ key }) => key !== first).map(async ({ key, ours: spec }) => {
      const reference = { name: key, command: [runtime.node, ...profiling(key), join(runtime.referenceDir, `reference-${key}.mjs`)], env: baseEnv, core: 0 };
      servers.set(key, await (spec ? startOurs(key, spec) : startServer(reference)));
    }),
  );
  console.log(`bench: ${servers.size} servers up after ${elapsed()}; ${rounds} round(s) of ${scenarios.length} scenario(s)`);
  // Idle memory: every worker has served its first requests (the seed, the checks) and none since.
  const idle = {};
  for (const key of oursKeys) idle[key] = await workerMemory(servers.get(key), tokens.adminToken);

  const samples = {};
  const bodies = {};
  for (let round = 0; round < rounds; round++) {
    if (round > 0) reset(databasePath);
    for (const scenario of scenarios) {
      const line = [];
      for (const target of runTargets(scenario)) {
        const server = servers.get(serverOf(scenario, target).key);
        assertAlive();
        const workers = target === 'ours-default' ? defaultWorkers : 1;
        const options = requestOptions(scenario, target, server, tokens, workers);
        const withLogins = target.startsWith('with-logins');
        if (round === 0 && !withLogins) {
          const expectHeader = REFERENCES.includes(target) ? undefined : scenario.expectHeader;
          (bodies[scenario.name] ??= {})[target] = (await check(server, options, expectHeader)).body;
        }
        if (!withLogins && scenario.warmup !== false && warmupSeconds > 0) await load.run({ main: { ...options, duration: warmupSeconds } });
        const job = { main: options, ...(withLogins ? { background: forServer(server, scenario.background(), { duration: seconds }) } : {}) };
        const sample = { ...(await measure(load, server, job)), server: server.name };
        // The heap of the workers as the status view sampled it (every 2 s) during the load.
        if (!REFERENCES.includes(target)) sample.heapMb = (await workerMemory(server, tokens.adminToken)).heapMb;
        ((samples[scenario.name] ??= {})[target] ??= []).push(sample);
        line.push(`${target} ${Math.round(sample.rps)} req/s p99 ${sample.p99} ms${sample.errors ? ` ${sample.errors} errors` : ''}`);
      }
      console.log(`[${elapsed()}] ${runtime.name} round ${round + 1}/${rounds} ${scenario.name}: ${line.join(' · ')}`);
    }
  }
  assertAlive();
  const differ = compareBodies(bodies);
  for (const w of differ) console.warn(`bench: ${w}`);
  warnings.push(...differ.map((w) => `${runtime.label}: ${w}`));

  const summary = report(samples, {
    runtime: runtime.label,
    seconds, warmupSeconds, rounds, connections, bcryptRounds, defaultWorkers,
    cores: availableParallelism(), cpu: cpus()[0]?.model?.trim() ?? 'unknown', node: runtime.version,
    pinning: pinning
      ? 'WORKERS=1 servers and the references pinned to core 0 (taskset), autocannon to core 1; the WORKERS-unset server and the *-all-cores targets get every core, autocannon still on core 1; redis-server unpinned.'
      : 'No CPU pinning (taskset missing or a single core): server and load generator share the cores.',
    versions: Object.fromEntries(['express', 'fastify', 'autocannon'].map((p) => [p, createRequire(import.meta.url)(`${p}/package.json`).version])),
    seedTasks: SEED_TASKS,
    listBytes: bodies['list-sqlite']?.ours?.length ?? bodies['hot-list']?.ours?.length ?? null,
    scenarios: Object.fromEntries(scenarios.map((s) => [s.name, s.title])),
    idle,
  });
  // A server writes its profile as it exits.
  await stopServers();
  if (profileDir) for (const key of specs.keys()) console.log(`\nCPU profile of ${key} on ${runtime.label} (${join(profileDir, runtime.name, key)}):\n${summarizeProfiles(join(profileDir, runtime.name, key), { top: 20 })}`);
  return summary;
}

/** requestOptions are autocannon's options for one target of a scenario. */
function requestOptions(scenario, target, server, tokens, workers) {
  const request = scenario.request(target, tokens);
  const duration = Math.max(seconds, scenario.minSeconds ?? 0);
  return forServer(server, request, { connections: scenario.connections?.(workers) ?? connections, duration });
}

/** forServer points a request (one, or autocannon's list of requests) at a server. */
function forServer(server, request, base) {
  if (request.requests) return { ...base, url: server.url, requests: request.requests };
  const { path, ...rest } = request;
  return { ...base, ...rest, url: `${server.url}${path}` };
}

/** compareBodies warns when a target answered a read with other bytes than our server: it did not do the same work. */
function compareBodies(bodies) {
  const warnings = [];
  for (const scenario of scenarios.filter((s) => s.sameBody)) {
    const ours = bodies[scenario.name]?.ours;
    for (const [target, body] of Object.entries(bodies[scenario.name] ?? {})) {
      if (body !== ours) warnings.push(`${scenario.name}: ${target} answered ${body.length} bytes that differ from ours (${ours?.length} bytes)`);
    }
  }
  return warnings;
}

function assertAlive() {
  for (const server of servers.values()) {
    if (server.child.exitCode !== null || server.child.signalCode !== null) {
      throw new Error(`${server.name} exited during the run (code ${server.child.exitCode}, signal ${server.child.signalCode}):\n${server.output()}`);
    }
  }
}

async function stopServers() {
  await Promise.all([...servers.values()].map((s) => s.stop()));
  servers.clear();
}

try {
  await main();
  rmSync(dir, { recursive: true, force: true });
} catch (error) {
  console.error(`bench: ${error.stack ?? error}`);
  console.error(`bench: the database and logs stay in ${dir}`);
  for (const server of servers.values()) server.child.kill('SIGKILL');
  load?.child.kill('SIGKILL');
  redis?.child.kill('SIGKILL');
  process.exit(1);
}
