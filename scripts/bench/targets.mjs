// Starting the servers under test and reading what they cost: CPU from /proc/<pid>/stat and
// memory from /proc/<pid>/status, summed over each server's process tree (primary + workers).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { tsImport } from 'tsx/esm/api';

const root = fileURLToPath(new URL('../..', import.meta.url));
const START_TIMEOUT_MS = 60_000;
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/** pinning says whether taskset can keep the server and the load generator on different cores. */
export const pinning = spawnSync('sh', ['-c', 'command -v taskset'], { stdio: 'ignore' }).status === 0 && availableParallelism() > 1;

/** pinned prefixes a command with taskset for one core, when pinning is possible and a core is given. */
export function pinned(core, command) {
  return pinning && core !== null ? ['taskset', '-c', String(core), ...command] : command;
}

/**
 * oursCommand is how the API runs: the bundle of `npm run build` (dist/main.cjs, or the given one)
 * when there is one and --source was not asked for, else the source through tsx's loader. A bundle
 * older than a source file is said so: it would measure code that is no longer the code.
 */
export function oursCommand({ source = false, bundle = join(root, 'dist/main.cjs'), nodeArgs = [] } = {}) {
  if (!source && existsSync(bundle)) {
    const stale = newestSource() > statSync(bundle).mtimeMs;
    return { command: [process.execPath, ...nodeArgs, bundle, 'serve'], runs: `bundle: node ${relative(root, bundle)} serve`, stale, bundle };
  }
  const tsx = createRequire(import.meta.url).resolve('tsx/esm');
  return { command: [process.execPath, ...nodeArgs, '--import', tsx, join(root, 'src/main.ts'), 'serve'], runs: 'source: node --import tsx src/main.ts serve', stale: false };
}

function newestSource() {
  const files = readdirSync(join(root, 'src'), { recursive: true }).map(String).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
  return Math.max(statSync(join(root, 'openapi.yaml')).mtimeMs, ...files.map((f) => statSync(join(root, 'src', f)).mtimeMs));
}

// The tests' freePort, the one there is (the bench starts redis-server on one too).
export const { freePort } = await tsImport('../../src/test-support/free-port.ts', import.meta.url);

/**
 * startServer runs one server and resolves once it answers: ours when GET /ready says 200, a
 * reference when it prints "ready". It rejects with the server's last output if it exits or
 * does not come up in time.
 */
export async function startServer({ name, command, env, core = null }) {
  const port = await freePort();
  const [file, ...args] = pinned(core, command);
  const child = spawn(file, args, { env: { ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk) => (output = (output + chunk).slice(-8000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const server = {
    name,
    port,
    url: `http://127.0.0.1:${port}`,
    child,
    exited,
    stopping: false,
    output: () => output,
    stop: () => stopServer(server),
  };
  let gone = null;
  void exited.then((status) => (gone = status));
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await answers(server))) {
    if (gone) throw new Error(`${name} exited while starting (${JSON.stringify(gone)}):\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not come up within ${START_TIMEOUT_MS / 1000} s:\n${output}`);
    }
    await sleep(50);
  }
  return server;
}

async function answers(server) {
  if (!server.name.startsWith('ours')) return server.output().includes('ready\n');
  try {
    return (await fetch(`${server.url}/ready`)).status === 200;
  } catch {
    return false;
  }
}

/** stopServer asks for a graceful stop (what lets --cpu-prof write its profiles) and kills after 20 s. */
async function stopServer(server) {
  server.stopping = true;
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  server.child.kill('SIGTERM');
  const timedOut = await Promise.race([server.exited.then(() => false), sleep(20_000, true, { ref: false })]);
  if (timedOut) server.child.kill('SIGKILL');
}

/**
 * workerMemory reads the heap and RSS of our server's workers (the largest of each, MB) from the
 * status view (GET /api/v1/status, an admin's), which samples every worker every 2 s.
 */
export async function workerMemory(server, adminToken) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const response = await fetch(`${server.url}/api/v1/status`, { headers: { authorization: `Bearer ${adminToken}` } });
    if (!response.ok) throw new Error(`${server.name}: GET /api/v1/status answered ${response.status}`);
    const { workers } = await response.json();
    if (workers.length > 0 || Date.now() > deadline) {
      const most = (key) => (workers.length ? Math.max(...workers.map((w) => w[key])) / 2 ** 20 : null);
      return { rssMb: most('rssBytes'), heapMb: most('heapUsedBytes') };
    }
    await sleep(250);
  }
}

/** processTree lists a pid and all its descendants, read from /proc (empty without /proc). */
export function processTree(pid) {
  const parents = new Map();
  let entries = [];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return [];
  }
  for (const entry of entries) {
    const fields = statFields(Number(entry));
    if (fields) parents.set(Number(entry), Number(fields[1]));
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) for (const [child, parent] of parents) if (parent === tree[i]) tree.push(child);
  return tree;
}

/** statFields are the fields of /proc/<pid>/stat after the command name: [state, ppid, …]. */
function statFields(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** cpuSeconds sums utime + stime of the given processes. */
export function cpuSeconds(pids) {
  let ticks = 0;
  for (const pid of pids) {
    const fields = statFields(pid);
    if (fields) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / CLOCK_TICKS;
}

/** rssMb is a process's resident memory (VmRSS), or null when it cannot be read. */
export function rssMb(pid) {
  try {
    const match = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}
