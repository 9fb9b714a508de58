import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Db } from './database.js';

/** Below this much free space the database's filesystem counts as full: one write may need more. */
const FULL_BELOW_BYTES = 256 * 1024;
/** How long a write that failed for lack of space keeps /health saying so, unless one succeeds or space frees first. */
const REMEMBER_FAILURE_MS = 10_000;
/** SQLite's I/O errors that a full disk also causes (growing the WAL index, truncating, syncing). */
const SPACE_IOERRS = new Set(['SQLITE_IOERR_WRITE', 'SQLITE_IOERR_SHMSIZE', 'SQLITE_IOERR_TRUNCATE', 'SQLITE_IOERR_FSYNC', 'SQLITE_IOERR_SHMMAP']);

/** StorageWatch knows whether the database can take writes, as far as disk space goes. */
export interface StorageWatch {
  /** isFull tells whether an error a write got means the disk is full, and remembers it if so. */
  isFull(error: unknown): boolean;
  /** wrote records a write that went through. */
  wrote(): void;
  /** state is 'full' while writes fail for lack of space (or the filesystem has next to none left), else 'ok'. */
  state(): 'ok' | 'full';
}

const watches = new WeakMap<Db, StorageWatch>();

/**
 * storageWatch returns the watch of this connection's database, made on first use: the writer
 * reports to it and /health reads it, both from the connection they are given.
 */
export function storageWatch(db: Db): StorageWatch {
  let watch = watches.get(db);
  if (!watch) {
    watch = createStorageWatch(db.memory ? null : dirname(db.name));
    watches.set(db, watch);
  }
  return watch;
}

/** createStorageWatch watches the filesystem holding dir (null: an in-memory database, never full). */
export function createStorageWatch(dir: string | null, now: () => number = Date.now): StorageWatch {
  let failedAt = -Infinity;
  let spaceAtFailure = 0;
  const spaceLeft = (): number => {
    if (dir === null) return Infinity;
    try {
      const stats = statfsSync(dir);
      return stats.bavail * stats.bsize;
    } catch {
      return Infinity;
    }
  };
  return {
    isFull(error) {
      const code = (error as { code?: unknown } | null)?.code;
      const full = code === 'SQLITE_FULL' || (typeof code === 'string' && SPACE_IOERRS.has(code) && spaceLeft() < FULL_BELOW_BYTES);
      if (full) {
        failedAt = now();
        spaceAtFailure = spaceLeft();
      }
      return full;
    },
    wrote() {
      failedAt = -Infinity;
    },
    state() {
      const left = spaceLeft();
      if (left < FULL_BELOW_BYTES) return 'full';
      // A recent failure still counts (a quota, a write larger than what is left) until space grows.
      return now() - failedAt < REMEMBER_FAILURE_MS && left < spaceAtFailure + FULL_BELOW_BYTES ? 'full' : 'ok';
    },
  };
}
