import { problems } from '../http/errors.js';
import { isBusyError, type Db } from './database.js';
import { storageWatch } from './storage.js';

const MAX_RETRIES = 5;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** A Writer runs a function inside one BEGIN IMMEDIATE transaction and returns its result. */
export type Writer = <T>(work: () => T) => T;

/**
 * createWriter returns the one helper every write goes through: BEGIN IMMEDIATE takes the
 * write lock up front (no deadlock between two readers upgrading), and SQLITE_BUSY after
 * busy_timeout is retried with backoff; if it still fails the client gets a 503, never a 500.
 * A full disk is a 503 storage_full: nothing was stored, reads go on, and the next write after
 * space frees simply succeeds (SQLite rolled the failed transaction back).
 */
export function createWriter(db: Db, onBusyRetry: () => void = () => {}): Writer {
  const storage = storageWatch(db);
  return function write<T>(work: () => T): T {
    const transaction = db.transaction(work);
    for (let attempt = 0; ; attempt++) {
      try {
        const result = transaction.immediate();
        storage.wrote();
        return result;
      } catch (error) {
        if (storage.isFull(error)) throw problems.storageFull(error);
        if (!isBusyError(error)) throw error;
        if (attempt >= MAX_RETRIES) throw problems.databaseBusy(error);
        onBusyRetry();
        // better-sqlite3 is synchronous: the wait blocks this worker just as busy_timeout does.
        Atomics.wait(sleeper, 0, 0, 10 * 2 ** attempt + Math.random() * 10);
      }
    }
  };
}
