// One measurement: the load generator drives a server while the bench reads the server's CPU
// (over exactly the loaded interval) and memory; and the check that comes first, proving that a
// target answers what the scenario says (2xx, the cache hit, the same body as the others).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cpuSeconds, pinned, processTree, rssMb } from './targets.mjs';

const LOAD_SCRIPT = fileURLToPath(new URL('./load.mjs', import.meta.url));

/** startLoadGenerator starts scripts/bench/load.mjs on `core` and returns what runs one job there. */
export async function startLoadGenerator(core) {
  // spawn with an IPC channel rather than fork(), which could not put taskset in front.
  const [file, ...args] = pinned(core, [process.execPath, LOAD_SCRIPT]);
  const child = spawn(file, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`the load generator exited at start (code ${code})`)));
  });
  let sequence = 0;
  return {
    child,
    /** run sends a job and resolves with its result; onStarted runs when the main load begins. */
    run(job, onStarted = () => {}) {
      const id = ++sequence;
      return new Promise((resolve, reject) => {
        const onMessage = (message) => {
          if (message.id !== id) return;
          if (message.type === 'started') return onStarted();
          child.off('message', onMessage);
          child.off('exit', onExit);
          if (message.type === 'done') resolve(message.result);
          else reject(new Error(`the load generator failed: ${message.error}`));
        };
        const onExit = (code) => reject(new Error(`the load generator exited (code ${code})`));
        child.on('message', onMessage);
        child.once('exit', onExit);
        child.send({ ...job, id });
      });
    },
    stop: () => child.connected && child.disconnect(),
  };
}

/**
 * measure runs one job against a server and adds the server's CPU (share of one core over the
 * loaded interval, the whole process tree) and RSS (per worker and in total) to the load figures.
 */
export async function measure(load, server, job) {
  const pids = processTree(server.child.pid);
  let before = 0;
  let startedAt = 0;
  const result = await load.run(job, () => {
    before = cpuSeconds(pids);
    startedAt = performance.now();
  });
  const cpu = pids.length ? (cpuSeconds(pids) - before) / ((performance.now() - startedAt) / 1000) : null;
  // Ours is a primary and its workers; a reference is one process.
  const workers = server.name.startsWith('ours') ? pids.slice(1) : pids;
  const perWorker = workers.map(rssMb).filter((mb) => mb !== null);
  const all = pids.map(rssMb).filter((mb) => mb !== null);
  const { main, background } = result;
  return {
    ...main,
    errors: main.errors + main.non2xx + (background ? background.errors + background.non2xx : 0),
    socketErrors: main.errors,
    cpu,
    rssMb: perWorker.length ? Math.max(...perWorker) : null,
    rssPerWorkerMb: perWorker,
    totalRssMb: all.length ? all.reduce((a, b) => a + b, 0) : null,
    ...(background ? { logins: { rps: background.rps, p99: background.p99, total: background.total, errors: background.errors + background.non2xx } } : {}),
  };
}

/**
 * check sends a scenario's first request the way autocannon will and returns its status and body;
 * with expectHeader it retries a few times (the first request fills the cache, and with several
 * workers each fills its own) and throws if the header never comes.
 */
export async function check(server, options, expectHeader) {
  const first = options.requests?.[0] ?? options;
  const url = options.requests ? `${options.url}${first.path}` : options.url;
  let last;
  for (let attempt = 0; attempt < 8; attempt++) {
    const response = await fetch(url, { method: first.method, headers: first.headers, body: first.body });
    last = { status: response.status, body: await response.text(), header: expectHeader ? response.headers.get(expectHeader[0]) : null };
    if (response.status < 200 || response.status > 299) {
      throw new Error(`${server.name}: ${first.method} ${url} answered ${response.status}: ${last.body.slice(0, 500)}`);
    }
    if (!expectHeader || last.header === expectHeader[1]) return last;
  }
  throw new Error(`${server.name}: ${first.method} ${url} never answered ${expectHeader[0]}: ${expectHeader[1]} (last: ${last.header})`);
}
