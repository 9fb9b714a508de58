import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { WAL_TRUNCATE_BYTES } from './checkpoint.js';
import { nativeBinding } from './native-binding.js';

export type Db = Database.Database;

export interface OpenOptions {
  readonly synchronous: 'NORMAL' | 'FULL';
}

/** openDatabase opens the one connection a process uses, with every pragma set in one place. */
export function openDatabase(path: string, options: OpenOptions): Db {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  // Inside the single executable the addon is not in node_modules: prepareNativeBinding loaded it.
  const addon = nativeBinding();
  // better-sqlite3 takes a loaded addon object as well as a path; its types know only the path.
  const db = new Database(path, { timeout: 5000, ...(addon ? { nativeBinding: addon as unknown as string } : {}) });
  // First, so that every later statement (the WAL switch included) waits for a lock instead of failing.
  db.pragma('busy_timeout = 5000');
  // WAL lets readers in every worker go on while one writer commits.
  db.pragma('journal_mode = WAL');
  // NORMAL: a power loss may drop the last commits but never corrupts; FULL syncs every commit.
  db.pragma(`synchronous = ${options.synchronous}`);
  // Off by default in SQLite; the schema relies on it.
  db.pragma('foreign_keys = ON');
  // Negative means KiB: a 2 MB page cache per connection.
  db.pragma('cache_size = -2000');
  // Temporary b-trees (sorts without an index) stay in memory.
  db.pragma('temp_store = MEMORY');
  // A WAL that a burst made large is cut back to this when it restarts (see startCheckpointer).
  db.pragma(`journal_size_limit = ${WAL_TRUNCATE_BYTES}`);
  return db;
}

/**
 * closeDatabase checkpoints and closes, and never throws: on a full disk (or with a reader still
 * on the WAL) the checkpoint fails, the WAL stays beside the database and SQLite replays it at the
 * next open, so nothing is lost and the stop goes on. Returns the checkpoint's error, if any.
 */
export function closeDatabase(db: Db, checkpoint: 'PASSIVE' | 'TRUNCATE'): unknown {
  let failure: unknown;
  try {
    db.pragma(`wal_checkpoint(${checkpoint})`);
  } catch (error) {
    failure = error;
  }
  db.close();
  return failure;
}

/** isBusyError tells whether SQLite gave up waiting for a lock. */
export function isBusyError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

/** isPrimaryKeyViolation tells whether a write broke a PRIMARY KEY constraint. */
export function isPrimaryKeyViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** isUniqueViolation tells whether a write broke a UNIQUE constraint. */
export function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'SQLITE_CONSTRAINT_UNIQUE';
}
