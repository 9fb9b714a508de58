#!/usr/bin/env node
// A/B of one setting: two of our servers (one worker each, pinned to the same core) that differ
// only in the environment given, measured in turn on one scenario over interleaved rounds; prints
// the median of the per-round ratios of CPU time per request (A ÷ B: above 1, B costs less), with
// req/s, heap and RSS. What the README's "what each change
// bought" figures come from, when a change can be switched by the environment.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { check, measure, startLoadGenerator } from './measure.mjs';
import { prepareRuntime } from './runtime.mjs';
import { SCENARIOS } from './scenarios.mjs';
import { seed } from './seed.mjs';
import { oursCommand, startServer, workerMemory } from './targets.mjs';

const HELP = `Usage: node scripts/bench/ab.mjs --b NAME=VALUE [--a NAME=VALUE] [options]

  --a, --b NAME=VALUE   environment of server A and of server B (repeatable)
  --scenario NAME       hot-list (default), list-sqlite, get-one or create
  --rounds N            interleaved rounds (default 5)     --seconds N   per measurement (default 4)
  --node 24|current     the runtime of both servers (default 24)
Runs the bundle of \`npm run bench -- --build\` (bench-results/.bundle/), else dist/main.cjs.`;

const { values: flags } = parseArgs({
  options: {
    a: { type: 'string', multiple: true, default: [] },
    b: { type: 'string', multiple: true, default: [] },
    scenario: { type: 'string', default: 'hot-list' },
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '4' },
    node: { type: 'string', default: '24' },
    help: { type: 'boolean', default: false },
  },
});
if (flags.help) {
  console.log(HELP);
  process.exit(0);
}
const envOf = (pairs) => Object.fromEntries(pairs.map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
const scenario = SCENARIOS.find((s) => s.name === flags.scenario);
if (!scenario) throw new Error(`unknown scenario ${flags.scenario}`);

const dir = mkdtempSync(join(tmpdir(), 'backend-api-ab-'));
const databasePath = join(dir, 'ab.db');
const { bundle } = [oursCommand({ bundle: join(process.cwd(), 'bench-results/.bundle/main.cjs') }), oursCommand()].find((o) => o.bundle) ?? {};
const runtime = prepareRuntime(flags.node, { bundle, dir: join(dir, 'runtime'), log: console.log });
const base = {
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? dir,
  NODE_ENV: 'production',
  HOST: '127.0.0.1',
  JWT_SECRET: 'ab-'.padEnd(48, 'x'),
  JWT_EXPIRES_IN: '12h',
  DATABASE_PATH: databasePath,
  RATE_LIMIT_MAX: '0',
  LOG_LEVEL: 'info',
  WORKERS: '1',
  CACHE_ENABLED: String(scenario.ours === 'cached'),
};
const start = (name, env) =>
  startServer({ name: `ours-${name}`, command: [runtime.node, runtime.bundle, 'serve'], env: { ...base, LOG_DIR: join(dir, name), ...env }, core: 0 });

const servers = [];
const load = await startLoadGenerator(1);
try {
  servers.push(await start('a', envOf(flags.a)));
  const tokens = await seed(servers[0].url, databasePath);
  servers.push(await start('b', envOf(flags.b)));
  const ratios = [];
  const results = { a: [], b: [] };
  for (let round = 0; round < Number(flags.rounds); round++) {
    const line = [];
    for (const [i, server] of servers.entries()) {
      const { path, ...request } = scenario.request('ours', tokens);
      const options = { ...request, url: `${server.url}${path}`, connections: 32, duration: Number(flags.seconds) };
      if (round === 0) await check(server, options, scenario.expectHeader);
      await load.run({ main: { ...options, duration: 1 } });
      const sample = await measure(load, server, { main: options });
      const memory = await workerMemory(server, tokens.adminToken);
      // CPU time per request (the server's whole process tree) holds better than req/s on a busy machine.
      const cpuUs = (sample.cpu / sample.rps) * 1e6;
      results[i ? 'b' : 'a'].push({ rps: sample.rps, cpuUs, rssMb: sample.rssMb, heapMb: memory.heapMb });
      line.push(`${i ? 'B' : 'A'} ${Math.round(sample.rps)} req/s ${Math.round(cpuUs)} µs CPU/req rss ${Math.round(sample.rssMb)} heap ${Math.round(memory.heapMb)}`);
    }
    ratios.push(results.a.at(-1).cpuUs / results.b.at(-1).cpuUs);
    console.log(`round ${round + 1}: ${line.join(' · ')} · B/A ${ratios.at(-1).toFixed(2)} (CPU per request, A ÷ B)`);
  }
  const median = (v) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)];
  const of = (side, key) => Math.round(median(results[side].map((r) => r[key])));
  console.log(
    `${flags.scenario} on ${runtime.label}: B is ${median(ratios).toFixed(2)}× as efficient as A (A ${JSON.stringify(envOf(flags.a))}: ${of('a', 'cpuUs')} µs CPU/req, ${of('a', 'rps')} req/s, RSS ${of('a', 'rssMb')} MB, heap ${of('a', 'heapMb')} MB; ` +
      `B ${JSON.stringify(envOf(flags.b))}: ${of('b', 'cpuUs')} µs CPU/req, ${of('b', 'rps')} req/s, RSS ${of('b', 'rssMb')} MB, heap ${of('b', 'heapMb')} MB)`,
  );
} finally {
  load.stop();
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
}
