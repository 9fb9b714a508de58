import { statSync } from 'node:fs';
import type { Logger } from '../logging/logger.js';
import type { Db } from './database.js';

const TRUNCATE_ABOVE_BYTES = 64 * 1024 * 1024;

/**
 * startCheckpointer keeps the WAL from growing without bound: one process of the group runs a
 * PASSIVE checkpoint (never blocks writers) every interval, and truncates the file once it is large.
 * The workers turn SQLite's own per-commit auto-checkpoint off, so no two processes do this work.
 */
export function startCheckpointer(db: Db, path: string, intervalMs: number, logger: Logger): () => void {
  const timer = setInterval(() => {
    try {
      let walBytes = 0;
      try {
        walBytes = statSync(`${path}-wal`).size;
      } catch {
        return;
      }
      const mode = walBytes > TRUNCATE_ABOVE_BYTES ? 'TRUNCATE' : 'PASSIVE';
      const [result] = db.pragma(`wal_checkpoint(${mode})`) as Array<{ busy: number; log: number; checkpointed: number }>;
      logger.log(mode === 'TRUNCATE' ? 'info' : 'debug', 'wal checkpoint', { mode, walBytes, pid: process.pid, ...result });
    } catch (error) {
      logger.warn('wal checkpoint failed', { error });
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
