import cluster from 'node:cluster';
import { setTimeout as sleep } from 'node:timers/promises';
import { RateLimiterClusterMaster } from 'rate-limiter-flexible';
import type { Config } from '../config.js';
import { startCheckpointer } from '../db/checkpoint.js';
import { closeDatabase, openDatabase, type Db } from '../db/database.js';
import { migrate, quickCheck } from '../db/migrations.js';
import { registerLogMetrics } from '../logging/log-metrics.js';
import { fileTransports, type Logger } from '../logging/logger.js';
import { startPrimaryStatus } from '../status/primary-status.js';
import { codeIdentity } from './code-identity.js';
import { forwardedLogWriter } from './log-forwarding.js';
import { createPrimaryMetrics } from './metrics.js';
import { createWorkerPool, type WorkerPool } from './pool.js';
import { PRIMARY_CODE_ENV, sendToWorker } from './protocol.js';
import type { StopSignals } from './signals.js';
import { createSystemdNotifier } from './systemd-notify.js';

/** How much longer than SHUTDOWN_TIMEOUT the primary gives its workers: their own drain is bounded by it. */
const STOP_MARGIN_MS = 2000;

/**
 * runPrimary prepares the database once (migrations, quick_check), then forks the workers that
 * share the port; it holds no HTTP server. SIGTERM/SIGINT, from whoever and at any moment, is
 * one graceful stop (a second one exits at once); SIGHUP replaces the workers one at a time,
 * unless the code on disk changed since the primary started: workers never run other code than
 * their primary, so that needs a restart. workerEnv is added to the workers' environment.
 */
export async function runPrimary(config: Config, logger: Logger, fileSink: Logger, signals: StopSignals, workerEnv: Record<string, string> = {}): Promise<void> {
  const code = codeIdentity();
  let db: Db | null = null;
  let stopCheckpointer = () => {};
  let stopStatus = () => {};
  let pool: WorkerPool | null = null;
  let stopping = false;
  let stopSignals = 0;
  let reloads = 0;
  const systemd = createSystemdNotifier({ socket: config.notifySocket, logger });
  const serving = (workers: number) => `serving on ${config.host}:${config.port} with ${workers} workers`;

  async function shutdown(reason: string, exitCode = 0): Promise<never> {
    stopping = true;
    logger.info('shutting down', { reason, workers: pool?.size ?? 0 });
    systemd.stopping(`stopping (${reason}): draining ${pool?.size ?? 0} workers`, config.shutdownTimeoutMs);
    if (pool && !(await pool.stopAll(reason, config.shutdownTimeoutMs + STOP_MARGIN_MS))) {
      logger.error('workers did not stop in time; killing them');
      pool.killAll();
      exitCode = exitCode || 1;
    }
    stopCheckpointer();
    stopStatus();
    const unfinished = db ? closeDatabase(db, 'TRUNCATE') : undefined;
    if (unfinished) logger.warn('last checkpoint failed; the WAL is kept and replayed at the next start', { error: (unfinished as Error).message });
    logger.info('stopped', { exitCode });
    await Promise.race([new Promise((resolve) => fileSink.on('finish', resolve).end()), sleep(2000)]);
    process.exit(exitCode);
  }

  signals.onStop((signal) => {
    if (++stopSignals > 1) {
      logger.warn('second signal; exiting now', { signal });
      pool?.killAll();
      process.exit(1);
    }
    void shutdown(signal);
  });
  if (stopping) return;

  db = openDatabase(config.database.path, { synchronous: config.database.synchronous });
  const applied = migrate(db);
  const check = quickCheck(db);
  if (check !== 'ok') {
    logger.error('database failed quick_check; refusing to start', { check, path: config.database.path });
    process.exit(1);
  }
  db.pragma('wal_autocheckpoint = 0');
  stopCheckpointer = startCheckpointer(db, config.database.path, config.database.checkpointIntervalMs, logger);
  logger.info('database ready', { path: config.database.path, schema: applied });

  // Holds the per-host rate-limit counts the workers share (alone without Redis, as insurance with it).
  new RateLimiterClusterMaster();
  const metrics = createPrimaryMetrics();
  registerLogMetrics(metrics.registry, fileSink);
  const status = startPrimaryStatus({ databasePath: config.database.path, workerRestarts: metrics.workerRestarts, logger });
  stopStatus = status.stop;
  const writeLogs = forwardedLogWriter(fileSink);
  // Workers append their request lines to the app file themselves; the primary names it and rotates it.
  const appFile = fileTransports(fileSink).find((file) => file.kind === 'app');
  appFile?.share((path) => {
    for (const worker of Object.values(cluster.workers ?? {})) if (worker) sendToWorker(worker, { type: 'log-file', path });
  });
  const workers = createWorkerPool({
    workers: config.workers,
    logger,
    env: { ...workerEnv, [PRIMARY_CODE_ENV]: code },
    onMessage(worker, message) {
      if (message.type === 'logs') writeLogs(message.records);
      else if (message.type === 'log-file-request') sendToWorker(worker, { type: 'log-file', path: appFile?.sharedPath() ?? null });
      else if (message.type === 'metrics-request') metrics.answer(worker, message.id);
      else if (message.type === 'status-request' || message.type === 'status-sample') status.handle(worker, message);
    },
    onCrash: () => metrics.workerRestarts.inc(),
    onCrashLoop: () => void shutdown('crash loop', 1),
  });
  pool = workers;

  signals.onHangup(() => {
    if (stopping) return;
    const onDisk = codeIdentity();
    if (onDisk !== code) {
      logger.error('rolling restart refused: the executable or the code on disk changed since this primary started; restart the service to run it', {
        started: code,
        onDisk,
      });
      return systemd.status(`${serving(workers.size)}; reload refused: the executable changed, restart the service`);
    }
    // A SIGHUP during a rolling restart adds a pass to it: READY=1 when the last one is over.
    reloads += 1;
    systemd.reloading(`rolling restart of ${workers.size} workers`);
    void workers.rollingRestart().finally(() => --reloads === 0 && !stopping && systemd.ready(serving(workers.size)));
  });

  const ready = await workers.start();
  if (stopping) return;
  logger.info('primary ready', { pid: process.pid, workers: ready, port: config.port });
  // Every worker listens; or, if one died while starting (the pool replaces it), every other does.
  if (ready > 0) systemd.ready(serving(ready));
}
