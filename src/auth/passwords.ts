import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { readAsset } from '../assets.js';
import { problems } from '../http/errors.js';

export interface PasswordHasher {
  /** assertCapacity throws the 503 a job queued now would get, so a caller can refuse before any other work. */
  assertCapacity(): void;
  hash(password: string): Promise<string>;
  /** verify compares against the stored hash, or against a dummy one when there is none, so both paths take the same time. */
  verify(password: string, hash: string | undefined): Promise<boolean>;
  close(): Promise<void>;
}

export interface HasherOptions {
  readonly rounds: number;
  /**
   * The longest a job may wait for the thread. A job whose estimated wait (queue depth × the
   * measured time per job) is longer is refused at once; one still queued when the bound passes
   * (the estimate was wrong) is refused then, instead of run later.
   */
  readonly maxWaitMs: number;
}

type Job = { op: 'hash'; password: string; rounds: number } | { op: 'compare'; password: string; hash: string };

interface Queued {
  readonly job: Job;
  /** How many jobs of the configured cost this one's time stands for. */
  readonly scale: number;
  /** Refuses the job if it is still queued when its wait bound passes. */
  readonly deadline: NodeJS.Timeout;
  resolve(value: string | boolean): void;
  reject(error: Error): void;
}

/** The most jobs a process queues for its bcrypt thread, whatever their estimated wait. */
const MAX_QUEUED = 256;
/** Weight of the newest measurement in the moving average of the time per job. */
const SMOOTHING = 0.3;

// bcryptjs runs inside the thread from its own source text, so this works from a single executable
// too (no module to resolve on disk there).
const workerSource = (bcryptSource: string) => `
const { parentPort } = require('node:worker_threads');
const module = { exports: {} };
(function (module, exports, define) {
${bcryptSource}
})(module, module.exports, undefined);
const bcrypt = module.exports;
parentPort.on('message', (job) => {
  const started = performance.now();
  try {
    const result = job.op === 'hash' ? bcrypt.hashSync(job.password, job.rounds) : bcrypt.compareSync(job.password, job.hash);
    parentPort.postMessage({ result, ms: performance.now() - started });
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.message), ms: performance.now() - started });
  }
});
`;

/**
 * createPasswordHasher hashes with bcrypt at the given cost on a thread of its own: bcrypt is
 * pure CPU for a quarter of a second at cost 12, and on the event loop it would stall every
 * other request of the worker for that long. Jobs wait in a queue here and go to the thread one
 * at a time, so that a job can still be refused when its wait bound has passed.
 */
export function createPasswordHasher({ rounds, maxWaitMs }: HasherOptions): PasswordHasher {
  let thread: Worker | undefined;
  const queue: Queued[] = [];
  let running: { queued: Queued; startedAt: number } | undefined;
  /** Moving average of a job's time on the thread, unknown until one has run. */
  let jobMs: number | undefined;

  function start(): Worker {
    // Plain JavaScript: none of this process's loaders (tsx when run from source) are needed there.
    const worker = new Worker(workerSource(readAsset(BCRYPT_SOURCE)), { eval: true, execArgv: [] });
    worker.on('message', ({ result, error, ms }: { result?: string | boolean; error?: string; ms: number }) => {
      const done = running;
      running = undefined;
      if (done) {
        // Timed on the thread, so the thread's start-up and this event loop's delays do not count.
        const jobTime = ms * done.queued.scale;
        jobMs = jobMs === undefined ? jobTime : jobMs + SMOOTHING * (jobTime - jobMs);
        if (error !== undefined) done.queued.reject(new Error(error));
        else done.queued.resolve(result as string | boolean);
      }
      dispatch();
    });
    worker.on('error', (error) => {
      running?.queued.reject(error);
      running = undefined;
      thread = undefined;
      dispatch();
    });
    return worker;
  }

  /** estimatedWaitMs is how long a job queued now would wait before the thread takes it. */
  function estimatedWaitMs(now: number): number {
    if (jobMs === undefined) return 0;
    const left = running ? Math.max(0, jobMs - (now - running.startedAt)) : 0;
    return left + queue.length * jobMs;
  }

  function busy(waitMs: number): Error {
    return problems.unavailable('Too many password checks in progress; retry shortly.', Math.max(1, Math.ceil(waitMs / 1000)));
  }

  function dispatch(): void {
    const next = running ? undefined : queue.shift();
    if (next) {
      clearTimeout(next.deadline);
      const worker = (thread ??= start());
      running = { queued: next, startedAt: performance.now() };
      worker.ref();
      worker.postMessage(next.job);
    }
    // An idle thread must not keep the process alive.
    if (!running) thread?.unref();
  }

  function expire(queued: Queued): void {
    const at = queue.indexOf(queued);
    if (at === -1) return;
    queue.splice(at, 1);
    queued.reject(busy(estimatedWaitMs(performance.now())));
  }

  function assertCapacity(): void {
    const waitMs = estimatedWaitMs(performance.now());
    // Refused at once when the estimate says it would wait too long; the deadline catches a wrong estimate
    // (none is known before the first job has run).
    if (queue.length >= MAX_QUEUED || waitMs > maxWaitMs) throw busy(waitMs);
  }

  function run<T extends string | boolean>(job: Job, scale = 1): Promise<T> {
    try {
      assertCapacity();
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return new Promise<T>((resolve, reject) => {
      const queued: Queued = {
        job,
        scale,
        deadline: setTimeout(() => expire(queued), maxWaitMs).unref(),
        resolve: resolve as (value: string | boolean) => void,
        reject,
      };
      queue.push(queued);
      dispatch();
    });
  }

  let dummy: Promise<string> | undefined;
  const dummyHash = () =>
    (dummy ??= run<string>({ op: 'hash', password: randomBytes(16).toString('hex'), rounds }).catch((error: unknown) => {
      // A refused attempt must not stay the answer of every later one.
      dummy = undefined;
      throw error;
    }));
  // A cheap hash at once, scaled up (each step of the cost doubles the time), times a job before
  // the first request needs an estimate, without making that request wait behind a full one.
  const calibration = Math.max(4, rounds - 4);
  run<string>({ op: 'hash', password: randomBytes(16).toString('hex'), rounds: calibration }, 2 ** (rounds - calibration)).catch(() => undefined);

  return {
    assertCapacity,
    hash: (password) => run<string>({ op: 'hash', password, rounds }),
    async verify(password, hash) {
      const matches = await run<boolean>({ op: 'compare', password, hash: hash ?? (await dummyHash()) });
      return hash !== undefined && matches;
    },
    async close() {
      for (const queued of queue.splice(0)) {
        clearTimeout(queued.deadline);
        queued.reject(busy(0));
      }
      running?.queued.reject(busy(0));
      running = undefined;
      await thread?.terminate();
      thread = undefined;
    },
  };
}

/** The bcryptjs build the thread runs (listed in ASSET_FILES so that bundles carry it). */
export const BCRYPT_SOURCE = 'node_modules/bcryptjs/umd/index.js';
