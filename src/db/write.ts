import { problems } from '../http/errors.js';
import { isBusyError, type Db } from './database.js';
import { storageWatch } from './storage.js';

const MAX_RETRIES = 5;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** A Writer runs a function inside one BEGIN IMMEDIATE transaction and returns its result. */
export type Writer = <T>(work: () => T) => T;

/**
 * A TransactionHold says, when a write begins, whether the current request commits it itself
 * (a write sent with an Idempotency-Key stores its response in the same transaction). When it
 * claims the write, write() begins the transaction and leaves it open for the request to end.
 */
export type TransactionHold = () => boolean;

/**
 * createWriter returns the one helper every write goes through: BEGIN IMMEDIATE takes the
 * write lock up front (no deadlock between two readers upgrading), and SQLITE_BUSY after
 * busy_timeout is retried with backoff; if it still fails the client gets a 503, never a 500.
 * A full disk is a 503 storage_full: nothing was stored, reads go on, and the next write after
 * space frees simply succeeds (SQLite rolled the failed transaction back). onWrite is told as each
 * write begins (the change clock: what was read before may have changed).
 */
export function createWriter(db: Db, onBusyRetry: () => void = () => {}, hold: TransactionHold = () => false, onWrite: () => void = () => {}): Writer {
  const storage = storageWatch(db);

  function retryBusy<T>(attempt: () => T): T {
    for (let retries = 0; ; retries++) {
      try {
        const result = attempt();
        storage.wrote();
        return result;
      } catch (error) {
        if (storage.isFull(error)) throw problems.storageFull(error);
        if (!isBusyError(error)) throw error;
        if (retries >= MAX_RETRIES) throw problems.databaseBusy(error);
        onBusyRetry();
        // better-sqlite3 is synchronous: the wait blocks this worker just as busy_timeout does.
        Atomics.wait(sleeper, 0, 0, 10 * 2 ** retries + Math.random() * 10);
      }
    }
  }

  return function write<T>(work: () => T): T {
    onWrite();
    if (db.inTransaction || !hold()) return retryBusy(() => db.transaction(work).immediate());
    retryBusy(() => db.exec('BEGIN IMMEDIATE'));
    try {
      return work();
    } catch (error) {
      db.exec('ROLLBACK');
      throw storage.isFull(error) ? problems.storageFull(error) : error;
    }
  };
}
