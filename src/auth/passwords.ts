import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { readAsset } from '../assets.js';
import { problems } from '../http/errors.js';

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** verify compares against the stored hash, or against a dummy one when there is none, so both paths take the same time. */
  verify(password: string, hash: string | undefined): Promise<boolean>;
  close(): Promise<void>;
}

type Job = { op: 'hash'; password: string; rounds: number } | { op: 'compare'; password: string; hash: string };

/** The most logins and sign-ups a process queues for its bcrypt thread before answering 503. */
const MAX_QUEUED = 256;

// bcryptjs runs inside the thread from its own source text, so this works from a single executable
// too (no module to resolve on disk there).
const workerSource = (bcryptSource: string) => `
const { parentPort } = require('node:worker_threads');
const module = { exports: {} };
(function (module, exports, define) {
${bcryptSource}
})(module, module.exports, undefined);
const bcrypt = module.exports;
parentPort.on('message', ({ id, job }) => {
  try {
    const result = job.op === 'hash' ? bcrypt.hashSync(job.password, job.rounds) : bcrypt.compareSync(job.password, job.hash);
    parentPort.postMessage({ id, result });
  } catch (error) {
    parentPort.postMessage({ id, error: String(error && error.message) });
  }
});
`;

/**
 * createPasswordHasher hashes with bcrypt at the given cost on a thread of its own: bcrypt is
 * pure CPU for a quarter of a second at cost 12, and on the event loop it would stall every
 * other request of the worker for that long.
 */
export function createPasswordHasher(rounds: number): PasswordHasher {
  let thread: Worker | undefined;
  let sequence = 0;
  const pending = new Map<number, { resolve: (value: string | boolean) => void; reject: (error: Error) => void }>();

  function start(): Worker {
    // Plain JavaScript: none of this process's loaders (tsx when run from source) are needed there.
    const worker = new Worker(workerSource(readAsset(BCRYPT_SOURCE)), { eval: true, execArgv: [] });
    worker.on('message', ({ id, result, error }: { id: number; result?: string | boolean; error?: string }) => {
      const job = pending.get(id);
      pending.delete(id);
      // An idle thread must not keep the process alive (listeners added after unref would ref it again).
      if (pending.size === 0) worker.unref();
      if (error !== undefined) job?.reject(new Error(error));
      else job?.resolve(result as string | boolean);
    });
    worker.on('error', (error) => {
      for (const job of pending.values()) job.reject(error);
      pending.clear();
      thread = undefined;
    });
    return worker;
  }

  function run<T extends string | boolean>(job: Job): Promise<T> {
    if (pending.size >= MAX_QUEUED) return Promise.reject(problems.unavailable('Too many logins in progress; retry shortly.'));
    const worker = (thread ??= start());
    const id = ++sequence;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (value: string | boolean) => void, reject });
      worker.ref();
      worker.postMessage({ id, job });
    });
  }

  let dummy: Promise<string> | undefined;
  const dummyHash = () => (dummy ??= run<string>({ op: 'hash', password: randomBytes(16).toString('hex'), rounds }));

  return {
    hash: (password) => run<string>({ op: 'hash', password, rounds }),
    async verify(password, hash) {
      const matches = await run<boolean>({ op: 'compare', password, hash: hash ?? (await dummyHash()) });
      return hash !== undefined && matches;
    },
    async close() {
      await thread?.terminate();
      thread = undefined;
    },
  };
}

/** The bcryptjs build the thread runs (listed in ASSET_FILES so that bundles carry it). */
export const BCRYPT_SOURCE = 'node_modules/bcryptjs/umd/index.js';
