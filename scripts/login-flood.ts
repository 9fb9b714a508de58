#!/usr/bin/env -S node --import tsx
// Measures what a login flood does to the server: a real primary + workers from source, a flood of
// logins from many addresses (so no login limit stops them; only the bcrypt queue does), one
// legitimate user logging in meanwhile, and a reader of GET /api/v1/tasks before and during it.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { runLoad } from '../src/test-support/load.js';
import { startServerProcess } from '../src/test-support/process.js';

const HELP = `Usage: node --import tsx scripts/login-flood.ts [options]

Starts the server (src/main.ts serve) on a free port, then for --seconds runs --flood concurrent
clients, each sending wrong-password logins from a new address every time, while one user logs in
with the right password every 250 ms and 4 clients read GET /api/v1/tasks. Prints the latencies
(p50/p99/max) and statuses of each, and the reader's before the flood, as the clients saw them and
as the server's request log timed them (on a crowded machine the clients' own delays show in the
first). Exits 1 if the server fails to start or a request fails without a response.

  --flood N           concurrent flooding clients (default 50)
  --seconds N         length of the flood (default 8)
  --bcrypt-rounds N   BCRYPT_ROUNDS (default 12, the production default)
  --workers N         WORKERS (default 2)
  --max-wait-ms N     BCRYPT_MAX_WAIT_MS (default: the server's)
  --cpu-prof DIR      profile every server process (node --cpu-prof) into DIR; summarize with
                      node scripts/bench/cpu-profile.mjs DIR
  --help              this text`;

function usage(message: string): never {
  console.error(`login-flood: ${message}\n\n${HELP}`);
  process.exit(2);
}

let values: Record<string, string | boolean | undefined>;
try {
  values = parseArgs({
    options: {
      flood: { type: 'string', default: '50' },
      seconds: { type: 'string', default: '8' },
      'bcrypt-rounds': { type: 'string', default: '12' },
      workers: { type: 'string', default: '2' },
      'max-wait-ms': { type: 'string' },
      'cpu-prof': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  }).values;
} catch (error) {
  usage((error as Error).message);
}
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const number = (name: string, min: number, max: number) => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < min || n > max) usage(`--${name} must be an integer from ${min} to ${max} (got "${values[name]}")`);
  return n;
};
const flood = number('flood', 1, 1000);
const seconds = number('seconds', 1, 600);
const rounds = number('bcrypt-rounds', 4, 15);
const workers = number('workers', 1, 64);
const maxWait = values['max-wait-ms'] === undefined ? undefined : number('max-wait-ms', 1, 60_000);

/** waitUntilReady polls GET /ready until the server takes traffic (its start-up lines are not logged at warn). */
async function waitUntilReady(url: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const status = await fetch(`${url}/ready`).then((r) => r.status, () => 0);
    if (status === 200) return;
    await sleep(100);
  }
  throw new Error('the server did not become ready in 30 s');
}

type LogRecord = Record<string, unknown>;

interface Timed {
  readonly status: number;
  readonly ms: number;
}

const percentile = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
function summary(samples: readonly Timed[]): string {
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  const statuses = samples.reduce<Record<number, number>>((counts, s) => ((counts[s.status] = (counts[s.status] ?? 0) + 1), counts), {});
  return `n=${ms.length} p50=${percentile(ms, 50).toFixed(0)} ms p99=${percentile(ms, 99).toFixed(0)} ms max=${(ms.at(-1) ?? NaN).toFixed(0)} ms statuses=${JSON.stringify(statuses)}`;
}

/** The flooding clients: wrong-password logins, each from an address of its own; posts back the timed responses. */
const FLOOD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { url, email, clients, deadline } = workerData;
let address = 0;
const samples = [];
async function client() {
  while (Date.now() < deadline) {
    const n = ++address;
    const started = performance.now();
    const response = await fetch(url + '/api/v1/auth/login', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-forwarded-for': '10.' + ((n >> 16) & 255) + '.' + ((n >> 8) & 255) + '.' + (n & 255),
        'x-request-id': 'flood-' + n,
      },
      body: JSON.stringify({ email, password: 'wrong-' + n }),
    });
    await response.arrayBuffer();
    samples.push({ status: response.status, ms: performance.now() - started });
  }
}
Promise.all(Array.from({ length: clients }, client)).then(() => parentPort.postMessage(samples));
`;

const server = await startServerProcess({
  env: {
    // The request log gives the server's own duration of each request (the clients share a crowded CPU).
    LOG_LEVEL: 'info',
    BCRYPT_ROUNDS: String(rounds),
    WORKERS: String(workers),
    ...(maxWait ? { BCRYPT_MAX_WAIT_MS: String(maxWait) } : {}),
  },
  nodeArgs: typeof values['cpu-prof'] === 'string' ? ['--cpu-prof', `--cpu-prof-dir=${resolve(values['cpu-prof'])}`] : [],
  readyMessage: null,
});
let exitCode = 0;
try {
  await waitUntilReady(server.url);
  let sequence = 0;
  const post = async (path: string, body: object, ip: string): Promise<Timed & { body: Record<string, unknown> }> => {
    const started = performance.now();
    const response = await fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': ip, 'x-request-id': `own-${++sequence}` },
      body: JSON.stringify(body),
    });
    const parsed = (await response.json()) as Record<string, unknown>;
    return { status: response.status, ms: performance.now() - started, body: parsed };
  };
  const user = { username: 'owner', email: 'owner@example.com', password: 'secret123' };
  await post('/api/v1/auth/register', user, '192.0.2.1');
  const credentials = { email: user.email, password: user.password };
  const token = (await post('/api/v1/auth/login', credentials, '192.0.2.1')).body.token as string;
  if (typeof token !== 'string') throw new Error('the first login failed');
  const read = (durationMs: number) =>
    runLoad({ baseUrl: server.url, concurrency: 4, durationMs, next: () => ({ method: 'GET', path: '/api/v1/tasks?limit=10', token }) });
  const timedReads = (result: Awaited<ReturnType<typeof read>>) => {
    if (result.failures.length > 0) exitCode = 1;
    return result.completed.map((r) => ({ status: r.status, ms: r.endedAt - r.startedAt }));
  };

  const quiet = timedReads(await read(3000));

  const deadline = Date.now() + seconds * 1000;
  // The flood runs on a thread of its own, so its clients do not delay this event loop's timing of the others.
  const flooding = new Promise<Timed[]>((resolve, reject) => {
    const thread = new Worker(FLOOD_SOURCE, { eval: true, workerData: { url: server.url, email: user.email, clients: flood, deadline } });
    thread.once('message', resolve);
    thread.once('error', reject);
  });
  const legitSamples: Timed[] = [];
  const legit = async () => {
    await sleep(1000);
    while (Date.now() < deadline) {
      legitSamples.push(await post('/api/v1/auth/login', credentials, '192.0.2.2'));
      await sleep(250);
    }
  };
  const [reads, floodSamples] = await Promise.all([read(seconds * 1000), flooding, legit()]);

  const logged = (match: (record: LogRecord) => boolean) =>
    server
      .records()
      .filter((r) => r.message === 'request' && match(r))
      .map((r) => ({ status: r.status as number, ms: r.durationMs as number }));
  const floodStart = deadline - seconds * 1000;
  const readsDuring = (r: LogRecord) => r.route === '/api/v1/tasks' && Date.parse(String(r.timestamp)) >= floodStart;
  console.log(`login flood: ${flood} clients for ${seconds} s, BCRYPT_ROUNDS=${rounds}, WORKERS=${workers}, BCRYPT_MAX_WAIT_MS=${maxWait ?? 'default'}`);
  console.log('  as the clients saw them:');
  console.log(`    reads before the flood:  ${summary(quiet)}`);
  console.log(`    reads during the flood:  ${summary(timedReads(reads))}`);
  console.log(`    flood logins:            ${summary(floodSamples)}`);
  console.log(`    legitimate logins:       ${summary(legitSamples)}`);
  console.log('  as the server logged them (durationMs):');
  console.log(`    reads during the flood:  ${summary(logged(readsDuring))}`);
  console.log(`    flood logins:            ${summary(logged((r) => String(r.requestId).startsWith('flood-')))}`);
  console.log(`    legitimate logins:       ${summary(logged((r) => String(r.requestId).startsWith('own-') && r.route === '/api/v1/auth/login' && Date.parse(String(r.timestamp)) >= floodStart))}`);
} catch (error) {
  console.error(`login-flood: ${(error as Error).message}`);
  exitCode = 1;
} finally {
  server.kill('SIGTERM');
  await server.exited;
}
process.exit(exitCode);
