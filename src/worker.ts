import type { Config } from './config.js';
import { startCheckpointer } from './db/checkpoint.js';
import { openDatabase } from './db/database.js';
import { migrate } from './db/migrations.js';
import { createLogger, type LogRecord } from './logging/logger.js';
import { serve, type RunningServer } from './server.js';

/** How this process was started: by our cluster primary, by PM2 in cluster mode, or on its own. */
export type WorkerMode = 'cluster' | 'pm2' | 'standalone';

/** Messages between the primary and its workers. */
/** A log record, or a request line already serialized as JSON (the hot path). */
export type ForwardedLog = LogRecord | string;
export type WorkerMessage = { type: 'ready'; port: number } | { type: 'logs'; records: ForwardedLog[] } | { type: 'flush' };
export type PrimaryMessage = { type: 'shutdown'; reason: string } | { type: 'flushed' };

/** How long a leaving worker waits for the primary to answer its flush: a primary that is gone never does. */
const FLUSH_ANSWER_MS = 2000;

interface RecordBatch {
  push(record: ForwardedLog): void;
  flush(): void;
}

/** batchRecords sends log records to the primary in batches: one IPC message per few milliseconds, not per line. */
function batchRecords(send: (records: ForwardedLog[]) => void, delayMs = 10, maxRecords = 200): RecordBatch {
  let records: ForwardedLog[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (records.length === 0) return;
    send(records);
    records = [];
  };
  return {
    push(record) {
      records.push(record);
      if (records.length >= maxRecords) flush();
      else timer ??= setTimeout(flush, delayMs);
    },
    flush,
  };
}

/**
 * flushToPrimary resolves once every message sent so far (log records above all) has left for
 * the primary, and, with `answered`, once the primary has answered the flush. That round trip
 * empties the channel before the worker exits: a connection the primary handed over before it
 * saw this worker's server close arrives ahead of the answer and goes back to the primary for
 * another worker. Exiting with it unread left it in the primary for good (a client hung, a
 * CLOSE_WAIT socket), about once in a dozen rolling restarts under load.
 */
async function flushToPrimary(batch: RecordBatch, answered: boolean): Promise<void> {
  // Let winston's streams hand their last records to the forwarding transport first.
  await new Promise((resolve) => setImmediate(resolve));
  batch.flush();
  await new Promise<void>((resolve) => {
    if (!process.connected || !process.send) return resolve();
    const timer = setTimeout(done, FLUSH_ANSWER_MS);
    function done() {
      clearTimeout(timer);
      process.off('message', onAnswer);
      process.off('disconnect', done);
      resolve();
    }
    function onAnswer(message: PrimaryMessage) {
      if (message?.type === 'flushed') done();
    }
    if (answered) {
      process.on('message', onAnswer);
      process.on('disconnect', done);
    }
    process.send({ type: 'flush' }, undefined, {}, (error) => (error || !answered) && done());
  });
}

/** runWorker serves HTTP in this process until a signal, the primary or a lost primary says stop. */
export async function runWorker(config: Config, mode: WorkerMode): Promise<void> {
  const send = (message: WorkerMessage | 'ready') => process.send?.(message);
  const toPrimary = batchRecords((records) => process.connected && send({ type: 'logs', records }));
  // In cluster mode the primary writes the files; without files there is nothing to send it.
  const forward = mode === 'cluster' && config.log.dir !== null;
  const logger = createLogger(config, {
    // With files, stdout keeps the lifecycle lines and the files hold the request lines too.
    console: config.log.dir ? 'quiet' : true,
    files: mode !== 'cluster',
    ...(mode === 'pm2' ? { fileTag: `instance${config.pm2Instance}` } : {}),
    ...(forward ? { forward: toPrimary.push } : {}),
  });
  // The hot path: a request line goes straight into the batch for the primary, skipping winston here.
  const logRequest =
    forward && logger.isInfoEnabled()
      ? (record: Record<string, unknown>) => toPrimary.push(JSON.stringify({ level: 'info', message: 'request', timestamp: new Date().toISOString(), ...record }))
      : undefined;

  const db = openDatabase(config.database.path, { synchronous: config.database.synchronous });
  if (mode === 'cluster') {
    // The primary checkpoints for the whole group.
    db.pragma('wal_autocheckpoint = 0');
  } else {
    // PM2 starts instances together: the EXCLUSIVE lock in migrate applies each migration once.
    const applied = migrate(db);
    if (applied.from !== applied.to) logger.info('migrated', { ...applied, pid: process.pid });
    if (mode === 'standalone' || config.pm2Instance === 0) {
      db.pragma('wal_autocheckpoint = 0');
      startCheckpointer(db, config.database.path, config.database.checkpointIntervalMs, logger);
    }
  }

  // The stop handlers come before serve() resolves: a stop asked for during start is kept, not lost.
  let running: RunningServer | undefined = undefined;
  let stopAsked: string | undefined;
  let stopping = false;
  const stop = (reason: string) => {
    if (running === undefined) return void (stopAsked ??= reason);
    if (stopping) {
      logger.warn('second stop request; exiting now', { reason });
      process.exit(1);
    }
    stopping = true;
    running
      .drain(reason)
      .then(() => flushToPrimary(toPrimary, mode === 'cluster'))
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error('drain failed', { error });
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (mode === 'cluster') {
    process.on('message', (message: PrimaryMessage) => {
      if (message?.type === 'shutdown') stop(message.reason);
    });
    // A primary that died cannot replace us or stop us: drain and go.
    process.on('disconnect', () => stopping || stop('primary gone'));
  }

  running = await serve({ config, logger, db, ...(logRequest ? { logRequest } : {}) });
  logger.info('listening', { host: config.host, port: running.port, pid: process.pid, mode });
  if (stopAsked !== undefined) return stop(stopAsked);

  send(mode === 'pm2' ? 'ready' : { type: 'ready', port: running.port });
}
