import cluster, { type Worker } from 'node:cluster';
import { EventEmitter, once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../logging/logger.js';
import { EXIT_MIXED_VERSIONS, isWorkerMessage, sendToWorker, type WorkerMessage } from './protocol.js';

const CRASH_WINDOW_MS = 60_000;
const READY_TIMEOUT_MS = 30_000;

interface Slot {
  readonly worker: Worker;
  /** The rolling restart it belongs to: a SIGHUP asks to replace every worker of an older one. */
  readonly generation: number;
  /** Why it is going: the primary retired it, or it stops on its own (a signal it got, its primary gone). */
  leaving: null | 'retired' | 'self';
  /** true once it listens, false if it exited first. */
  readonly ready: Promise<boolean>;
  readonly exited: Promise<void>;
  /** The signal it died of, once it has. */
  diedOf: string | null;
}

export interface PoolOptions {
  readonly workers: number;
  readonly logger: Logger;
  /** Environment added to each worker's. */
  readonly env: Record<string, string>;
  /** The messages that are not about the worker's life (logs, metrics). */
  readonly onMessage: (worker: Worker, message: WorkerMessage) => void;
  readonly onCrash: () => void;
  readonly onCrashLoop: () => void;
}

/** A WorkerPool keeps `workers` workers alive, replaces them one at a time, and stops them. */
export interface WorkerPool {
  readonly size: number;
  /** start forks the workers and resolves with how many became ready. */
  start(): Promise<number>;
  /** rollingRestart replaces every worker, each new one ready before an old one drains; a call during one adds a pass. */
  rollingRestart(): Promise<void>;
  /** stopAll asks every worker to drain; resolves false if some are still running after limitMs. */
  stopAll(reason: string, limitMs: number): Promise<boolean>;
  killAll(): void;
}

/**
 * createWorkerPool holds the one rule of the primary's workers: never more processes than
 * asked, plus one during a rolling step, whatever mix of SIGHUPs, deaths and stops arrives.
 * A worker is forked only where a live process is missing (after a death, with backoff), or as
 * the one extra of a rolling step; a worker is stopped by SIGTERM, which — unlike a message —
 * cannot be lost before the worker listens for it: until its handlers are installed it simply
 * dies of it, with nothing in flight.
 */
export function createWorkerPool(options: PoolOptions): WorkerPool {
  const { logger } = options;
  const slots = new Map<number, Slot>();
  const exits = new EventEmitter();
  const crashes: number[] = [];
  let generation = 0;
  let rolling = false;
  let stopping = false;

  function fork(): Slot {
    const worker = cluster.fork(options.env);
    let becameReady: (ready: boolean) => void = () => {};
    const slot: Slot = {
      worker,
      generation,
      leaving: null,
      diedOf: null,
      ready: new Promise((resolve) => (becameReady = resolve)),
      exited: new Promise((resolve) => worker.once('exit', () => resolve())),
    };
    slots.set(worker.id, slot);
    worker.on('message', (message: unknown) => {
      if (!isWorkerMessage(message)) return;
      if (message.type === 'ready') becameReady(true);
      else if (message.type === 'stopping') slot.leaving ??= 'self';
      // Its server's close reached us before this: no connection will be handed to it any more.
      else if (message.type === 'closed') sendToWorker(worker, { type: 'closed-ack' });
      else options.onMessage(worker, message);
    });
    // A library's send to a worker that is going (prom-client, rate-limiter-flexible); its 'exit' says the rest.
    worker.on('error', () => {});
    worker.once('exit', (code, signal) => {
      slot.diedOf = signal;
      becameReady(false);
      onExit(slot, code, signal);
    });
    return slot;
  }

  function onExit(slot: Slot, code: number | null, signal: string | null): void {
    slots.delete(slot.worker.id);
    exits.emit('exit');
    // A terminal hang-up that reached a worker before its first line of JavaScript (which ignores
    // SIGHUP) ends it by the default action: no crash, replaced at once.
    const hungUp = signal === 'SIGHUP';
    const expected = stopping || hungUp || slot.leaving === 'retired' || (slot.leaving === 'self' && code === 0);
    const pid = slot.worker.process.pid;
    logger.log(expected ? 'info' : 'error', 'worker exited', { workerPid: pid, code, signal, expected, leaving: slot.leaving });
    if (code === EXIT_MIXED_VERSIONS) logger.error('a new worker refused to run other code than this primary; restart the service to upgrade', { workerPid: pid });
    if (stopping) return;
    // Even a retired worker may leave one missing: its replacement may have stood in for another that died meanwhile.
    if (expected) return void setImmediate(reconcile);
    options.onCrash();
    const now = Date.now();
    crashes.push(now);
    while (crashes.length && (crashes[0] as number) < now - CRASH_WINDOW_MS) crashes.shift();
    if (crashes.length >= Math.max(5, options.workers * 3)) {
      logger.error('crash loop: giving up', { deaths: crashes.length, windowSeconds: CRASH_WINDOW_MS / 1000 });
      return options.onCrashLoop();
    }
    setTimeout(reconcile, Math.min(30_000, 100 * 2 ** (crashes.length - 1)));
  }

  /** reconcile forks what is missing, never beyond the number asked. */
  function reconcile(): void {
    while (!stopping && slots.size < options.workers) fork();
  }

  async function whenReady(slot: Slot): Promise<boolean> {
    const timeout = sleep(READY_TIMEOUT_MS, false, { ref: false });
    return Promise.race([slot.ready, timeout]);
  }

  function retire(slot: Slot, reason: string): Promise<void> {
    slot.leaving = 'retired';
    if (slot.worker.process.exitCode === null && slot.worker.process.signalCode === null) {
      logger.info('retiring worker', { workerPid: slot.worker.process.pid, reason });
      slot.worker.process.kill('SIGTERM');
    }
    return slot.exited;
  }

  async function rollingStep(old: Slot): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      // The one extra process of a rolling step: wait until no other is draining beside the live ones.
      while (slots.size > options.workers && !stopping) await once(exits, 'exit');
      if (stopping || old.leaving !== null || !slots.has(old.worker.id)) return !stopping;
      const fresh = fork();
      if (await whenReady(fresh)) break;
      if (stopping) return false;
      if (fresh.diedOf === 'SIGHUP' && attempt < 3) continue;
      logger.error('rolling restart: a new worker did not become ready; keeping the old ones');
      void retire(fresh, 'not ready');
      return false;
    }
    await retire(old, 'rolling restart');
    return true;
  }

  return {
    get size() {
      return slots.size;
    },
    async start() {
      const first = Array.from({ length: options.workers }, fork);
      const ready = await Promise.all(first.map(whenReady));
      return ready.filter(Boolean).length;
    },
    async rollingRestart() {
      generation += 1;
      if (rolling || stopping) return;
      rolling = true;
      logger.info('rolling restart: begin', { workers: slots.size });
      try {
        for (;;) {
          const old = [...slots.values()].find((slot) => slot.leaving === null && slot.generation < generation);
          if (!old || stopping) break;
          if (!(await rollingStep(old))) return;
        }
        if (!stopping) logger.info('rolling restart: done', { workers: slots.size });
      } finally {
        rolling = false;
      }
    },
    async stopAll(reason, limitMs) {
      stopping = true;
      const all = Promise.all([...slots.values()].map((slot) => retire(slot, reason)));
      return Promise.race([all.then(() => true), sleep(limitMs, false)]);
    },
    killAll() {
      for (const slot of slots.values()) slot.worker.process.kill('SIGKILL');
    },
  };
}
