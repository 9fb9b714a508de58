import type { Config } from '../config.js';
import { startCheckpointer } from '../db/checkpoint.js';
import { openDatabase, type Db } from '../db/database.js';
import { migrate } from '../db/migrations.js';
import { createLogger, requestLine, type Logger } from '../logging/logger.js';
import { sharedAppend, type SharedAppend } from '../logging/shared-append.js';
import { serve, type RunningServer } from '../server.js';
import { codeIdentity } from './code-identity.js';
import { batchRecords, type RecordBatch } from './log-forwarding.js';
import { clusterWorker, pm2Instance, type ProcessModel } from './model.js';
import { EXIT_MIXED_VERSIONS, sendToPrimary, type PrimaryMessage } from './protocol.js';
import type { StopSignals } from './signals.js';
import { linkToPrimary, type PrimaryLink } from './worker-link.js';

/** How long a stopping worker waits for its primary to confirm that no connection is still on its way to it. */
const CLOSED_ACK_TIMEOUT_MS = 1000;
/** How long a stopping worker still accepts (see ServeOptions.acceptGraceMs). */
const ACCEPT_GRACE_MS = 300;

/** What started this worker: our cluster primary (with the identity of its code), or PM2. */
export type Supervisor = { readonly kind: 'cluster'; readonly primaryCode: string | null } | { readonly kind: 'pm2' };

/**
 * runWorker serves HTTP until it is asked to stop — SIGTERM or SIGINT from its primary, from the
 * operator or to the whole group, or its primary gone — and then, whichever came and however
 * many, drains once and exits 0. Everything that can ask is listened to before it serves.
 */
export async function runWorker(config: Config, supervisor: Supervisor, signals: StopSignals): Promise<void> {
  const link = linkToPrimary();
  const inCluster = supervisor.kind === 'cluster';
  const toPrimary = batchRecords((records) => void link.send({ type: 'logs', records }));
  const logger = workerLogger(config, supervisor, toPrimary);
  // Request lines go straight into the primary's app file when it names one, else to the primary.
  const requestLines = sharedAppend({ handOver: toPrimary.push, askForPath: () => void link.send({ type: 'log-file-request' }) });
  if (forwardsLogs(config, supervisor)) {
    link.listen((message) => message.type === 'log-file' && requestLines.use(message.path));
    void link.send({ type: 'log-file-request' });
  }

  let serving: (running: RunningServer | null) => void = () => {};
  const started = new Promise<RunningServer | null>((resolve) => (serving = resolve));
  let stopReason: string | null = null;
  const stop = (reason: string) => {
    if (stopReason !== null) return;
    stopReason = reason;
    if (inCluster) void link.send({ type: 'stopping', reason });
    void started.then((running) => finish(running, reason));
  };
  signals.onStop((signal) => stop(signal));
  link.onGone(() => stop(inCluster ? 'primary gone' : 'supervisor gone'));

  async function finish(running: RunningServer | null, reason: string): Promise<never> {
    try {
      if (running) await running.drain(reason);
      // The primary may have handed this worker a connection it has not read yet (node:cluster's
      // round robin); once the primary answers this, every such one has arrived and been refused,
      // so none stays open in the primary after this worker exits.
      if (running && inCluster) await link.ask({ type: 'closed' }, isClosedAck, CLOSED_ACK_TIMEOUT_MS);
      requestLines.flush();
      if (inCluster) await flushToPrimary(toPrimary, link);
      process.exit(0);
    } catch (error) {
      logger.error('drain failed', { error });
      process.exit(1);
    }
  }

  if (supervisor.kind === 'cluster' && supervisor.primaryCode !== null && codeIdentity() !== supervisor.primaryCode) {
    logger.error('this worker would run other code than its primary: the executable or the code on disk changed; restart the service to run it', {
      pid: process.pid,
    });
    await flushToPrimary(toPrimary, link);
    process.exit(EXIT_MIXED_VERSIONS);
  }
  if (stopReason !== null) return serving(null);

  let running: RunningServer;
  try {
    const db = openWorkerDatabase(config, supervisor, logger);
    running = await serve({ config, logger, db, model: workerModel(config, supervisor, db, link, logger, requestLines), acceptGraceMs: ACCEPT_GRACE_MS });
  } catch (error) {
    serving(null);
    throw error;
  }
  serving(running);
  if (stopReason !== null) return;
  logger.info('listening', { host: config.host, port: running.port, pid: process.pid, mode: supervisor.kind });
  if (inCluster) void link.send({ type: 'ready', port: running.port });
  else void sendToPrimary('ready');
}

/** forwardsLogs: in our cluster the primary writes the files, so records go to it; without files there is nothing to send. */
function forwardsLogs(config: Config, supervisor: Supervisor): boolean {
  return supervisor.kind === 'cluster' && config.log.dir !== null;
}

/** workerLogger: records go to the primary (see forwardsLogs); a PM2 instance writes files of its own. */
function workerLogger(config: Config, supervisor: Supervisor, toPrimary: RecordBatch): Logger {
  return createLogger(config, {
    // With files, stdout keeps the lifecycle lines and the files hold the request lines too.
    console: config.log.dir ? 'quiet' : true,
    files: supervisor.kind === 'pm2',
    ...(supervisor.kind === 'pm2' ? { fileTag: `instance${config.pm2Instance}` } : {}),
    ...(forwardsLogs(config, supervisor) ? { forward: toPrimary.push } : {}),
  });
}

/**
 * openWorkerDatabase: in our cluster the primary migrated and checkpoints for the whole group.
 * PM2 starts its instances together: the EXCLUSIVE lock in migrate applies each migration once,
 * and instance 0 checkpoints.
 */
function openWorkerDatabase(config: Config, supervisor: Supervisor, logger: Logger): Db {
  const db = openDatabase(config.database.path, { synchronous: config.database.synchronous });
  if (supervisor.kind === 'pm2') {
    const applied = migrate(db);
    if (applied.from !== applied.to) logger.info('migrated', { ...applied, pid: process.pid });
    if (config.pm2Instance !== 0) return db;
    db.pragma('wal_autocheckpoint = 0');
    startCheckpointer(db, config.database.path, config.database.checkpointIntervalMs, logger);
    return db;
  }
  db.pragma('wal_autocheckpoint = 0');
  return db;
}

/** workerModel: what this worker's app gets from the way it runs. */
function workerModel(config: Config, supervisor: Supervisor, db: Db, link: PrimaryLink, logger: Logger, requestLines: SharedAppend): ProcessModel {
  if (supervisor.kind === 'pm2') return pm2Instance(db, config.metricsToken !== null);
  // The hot path: a request line goes straight into the app file (or to the primary), skipping winston here.
  const logRequest =
    forwardsLogs(config, supervisor) && logger.isInfoEnabled()
      ? (record: Record<string, unknown>) => requestLines.write(requestLine(record))
      : undefined;
  return clusterWorker(link, logRequest);
}

function isClosedAck(message: PrimaryMessage): message is { type: 'closed-ack' } {
  return message.type === 'closed-ack';
}

/** flushToPrimary resolves once every message sent so far (log records above all) has left for the primary. */
async function flushToPrimary(batch: RecordBatch, link: PrimaryLink): Promise<void> {
  // Let winston's streams hand their last records to the forwarding transport first.
  await new Promise((resolve) => setImmediate(resolve));
  batch.flush();
  await link.send({ type: 'flush' });
}
