import cluster, { type Worker } from 'node:cluster';
import { setTimeout as sleep } from 'node:timers/promises';
import { RateLimiterClusterMaster } from 'rate-limiter-flexible';
import type { Config } from './config.js';
import { startCheckpointer } from './db/checkpoint.js';
import { closeDatabase, openDatabase } from './db/database.js';
import { migrate, quickCheck } from './db/migrations.js';
import { registerLogMetrics } from './logging/log-metrics.js';
import { appFileWriter, type Logger } from './logging/logger.js';
import { createPrimaryMetrics } from './metrics/cluster.js';
import type { PrimaryMessage, WorkerMessage } from './worker.js';

const CRASH_WINDOW_MS = 60_000;
const READY_TIMEOUT_MS = 30_000;

interface Slot {
  worker: Worker;
  ready: boolean;
  /** Set when the primary asked it to go: its exit is expected, not a crash. */
  retiring: boolean;
}

/**
 * runPrimary prepares the database once (migrations, quick_check), then forks the workers that
 * share the port; it holds no HTTP server. SIGTERM/SIGINT drain everything, SIGHUP replaces the
 * workers one at a time (each new one ready before an old one drains).
 */
export async function runPrimary(config: Config, logger: Logger, fileSink: Logger): Promise<void> {
  const db = openDatabase(config.database.path, { synchronous: config.database.synchronous });
  const applied = migrate(db);
  const check = quickCheck(db);
  if (check !== 'ok') {
    logger.error('database failed quick_check; refusing to start', { check, path: config.database.path });
    process.exit(1);
  }
  db.pragma('wal_autocheckpoint = 0');
  const stopCheckpointer = startCheckpointer(db, config.database.path, config.database.checkpointIntervalMs, logger);
  logger.info('database ready', { path: config.database.path, schema: applied });

  // Holds the per-host rate-limit counts the workers share (alone without Redis, as insurance with it).
  new RateLimiterClusterMaster();
  const metrics = createPrimaryMetrics();
  registerLogMetrics(metrics.registry, fileSink);
  const writeLine = appFileWriter(fileSink);
  const slots = new Map<number, Slot>();
  const crashes: number[] = [];
  let stopping = false;
  let rolling = false;

  function fork(): Slot {
    const worker = cluster.fork();
    const slot: Slot = { worker, ready: false, retiring: false };
    slots.set(worker.id, slot);
    worker.on('message', (message: WorkerMessage) => {
      if (message?.type === 'ready') {
        slot.ready = true;
        worker.emit('ready');
      } else if (message?.type === 'logs') {
        for (const record of message.records) {
          if (typeof record !== 'string') fileSink.log(record);
          else writeLine?.(record);
        }
      } else {
        metrics.handle(worker, message);
      }
    });
    worker.on('exit', (code, signal) => onExit(slot, code, signal));
    return slot;
  }

  function onExit(slot: Slot, code: number | null, signal: string | null): void {
    slots.delete(slot.worker.id);
    const expected = stopping || slot.retiring;
    logger.log(expected && code === 0 ? 'info' : 'error', 'worker exited', { workerPid: slot.worker.process.pid, code, signal, expected });
    if (expected) return;
    metrics.workerRestarts.inc();
    const now = Date.now();
    crashes.push(now);
    while (crashes.length && (crashes[0] as number) < now - CRASH_WINDOW_MS) crashes.shift();
    const limit = Math.max(5, config.workers * 3);
    if (crashes.length >= limit) {
      logger.error('crash loop: giving up', { deaths: crashes.length, windowSeconds: CRASH_WINDOW_MS / 1000 });
      void shutdown('crash loop', 1);
      return;
    }
    const delay = Math.min(30_000, 100 * 2 ** (crashes.length - 1));
    setTimeout(() => stopping || fork(), delay);
  }

  function whenReady(slot: Slot): Promise<boolean> {
    if (slot.ready) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), READY_TIMEOUT_MS);
      slot.worker.once('ready', () => (clearTimeout(timer), resolve(true)));
      slot.worker.once('exit', () => (clearTimeout(timer), resolve(false)));
    });
  }

  function retire(slot: Slot, reason: string): Promise<void> {
    slot.retiring = true;
    return new Promise((resolve) => {
      if (slot.worker.isDead()) return resolve();
      slot.worker.once('exit', () => resolve());
      const message: PrimaryMessage = { type: 'shutdown', reason };
      if (slot.worker.isConnected()) slot.worker.send(message);
      else slot.worker.process.kill('SIGTERM');
    });
  }

  async function rollingRestart(): Promise<void> {
    if (rolling || stopping) return;
    rolling = true;
    logger.info('rolling restart: begin', { workers: slots.size });
    try {
      for (const old of [...slots.values()]) {
        if (stopping) break;
        const fresh = fork();
        if (!(await whenReady(fresh))) {
          logger.error('rolling restart: a new worker did not become ready; keeping the old ones');
          void retire(fresh, 'not ready');
          return;
        }
        await retire(old, 'rolling restart');
      }
      logger.info('rolling restart: done', { workers: slots.size });
    } finally {
      rolling = false;
    }
  }

  async function shutdown(reason: string, exitCode = 0): Promise<void> {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { reason, workers: slots.size });
    const all = Promise.all([...slots.values()].map((slot) => retire(slot, reason)));
    const limit = sleep(config.shutdownTimeoutMs + 2000).then(() => 'timeout' as const);
    if ((await Promise.race([all, limit])) === 'timeout') {
      logger.error('workers did not stop in time; killing them');
      for (const slot of slots.values()) slot.worker.process.kill('SIGKILL');
      exitCode = exitCode || 1;
    }
    stopCheckpointer();
    const unfinished = closeDatabase(db, 'TRUNCATE');
    if (unfinished) logger.warn('last checkpoint failed; the WAL is kept and replayed at the next start', { error: (unfinished as Error).message });
    logger.info('stopped', { exitCode });
    await Promise.race([new Promise((resolve) => fileSink.on('finish', resolve).end()), sleep(2000)]);
    process.exit(exitCode);
  }

  let signals = 0;
  const onStopSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      logger.warn('second signal; exiting now', { signal });
      for (const slot of slots.values()) slot.worker.process.kill('SIGKILL');
      process.exit(1);
    }
    void shutdown(signal);
  };
  process.on('SIGTERM', onStopSignal);
  process.on('SIGINT', onStopSignal);
  process.on('SIGHUP', () => void rollingRestart());

  const first = Array.from({ length: config.workers }, fork);
  const ready = await Promise.all(first.map(whenReady));
  logger.info('primary ready', { pid: process.pid, workers: ready.filter(Boolean).length, port: config.port });
}
