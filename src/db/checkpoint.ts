import { statSync } from 'node:fs';
import type { Logger } from '../logging/logger.js';
import { throttledWarn } from '../logging/throttle.js';
import type { Db } from './database.js';

/** A WAL file this large is checkpointed and truncated at once (README: "Bounded WAL"). */
export const WAL_TRUNCATE_BYTES = 16 * 1024 * 1024;
/** How often the WAL's size is looked at: at full write speed it grows a few MB in this time. */
const WATCH_EVERY_MS = 100;
/**
 * The longest a TRUNCATE checkpoint waits for readers and the writer (it blocks new writers while
 * it waits); if it cannot finish in this time it gives up and the next look tries again.
 */
const TRUNCATE_WAIT_MS = 250;

type CheckpointResult = { busy: number; log: number; checkpointed: number };

/**
 * startCheckpointer keeps the WAL bounded. One process of the group (the workers turn SQLite's
 * per-commit auto-checkpoint off) looks at the WAL's size every 100 ms: past WAL_TRUNCATE_BYTES
 * it runs a TRUNCATE checkpoint, which copies every frame back, waits (briefly) for readers
 * still on the WAL, and empties the file. A PASSIVE checkpoint, which never blocks anyone, is not
 * enough under sustained writes: with a writer always adding frames it never reaches the end of
 * the WAL, so the WAL is never restarted and grows without bound. Every interval a PASSIVE one
 * keeps the database file current when writes are slow.
 */
export function startCheckpointer(db: Db, path: string, intervalMs: number, logger: Logger): () => void {
  // A full disk fails every checkpoint until space frees: say so every 30 s, not every 100 ms.
  const warn = throttledWarn(logger, 30_000);
  let lastPassive = Date.now();
  const busyTimeout = Number(db.pragma('busy_timeout', { simple: true }));

  function checkpoint(mode: 'PASSIVE' | 'TRUNCATE', walBytes: number): void {
    if (mode === 'TRUNCATE') db.pragma(`busy_timeout = ${TRUNCATE_WAIT_MS}`);
    try {
      const [result] = db.pragma(`wal_checkpoint(${mode})`) as CheckpointResult[];
      const done = result?.busy === 0;
      logger.log(mode === 'TRUNCATE' && !done ? 'info' : 'debug', 'wal checkpoint', { mode, walBytes, pid: process.pid, ...result });
    } catch (error) {
      warn('checkpoint', 'wal checkpoint failed', { mode, walBytes, error: (error as { code?: string }).code ?? (error as Error).message });
    } finally {
      if (mode === 'TRUNCATE') db.pragma(`busy_timeout = ${busyTimeout}`);
    }
  }

  const timer = setInterval(() => {
    let walBytes: number;
    try {
      walBytes = statSync(`${path}-wal`).size;
    } catch {
      return;
    }
    if (walBytes >= WAL_TRUNCATE_BYTES) {
      checkpoint('TRUNCATE', walBytes);
      lastPassive = Date.now();
    } else if (Date.now() - lastPassive >= intervalMs) {
      checkpoint('PASSIVE', walBytes);
      lastPassive = Date.now();
    }
  }, WATCH_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
