import { statSync } from 'node:fs';

/** How often the group is sampled, and how many intervals are kept: five minutes of history. */
export const SAMPLE_INTERVAL_MS = 2000;
export const HISTORY_INTERVALS = 150;
export const HISTORY_SECONDS = (SAMPLE_INTERVAL_MS * HISTORY_INTERVALS) / 1000;

/** databaseBytes measures the SQLite file and its WAL (0 for a file that is not there, e.g. the WAL after a TRUNCATE checkpoint). */
export function databaseBytes(path: string): { dbBytes: number; walBytes: number } {
  const size = (file: string) => {
    try {
      return statSync(file).size;
    } catch {
      return 0;
    }
  };
  return { dbBytes: size(path), walBytes: size(`${path}-wal`) };
}

/**
 * everyInterval runs tick now and then `intervalMs` after each run ends (never two at once),
 * on an unref'd timer, until the returned stop is called or tick returns false.
 */
export function everyInterval(tick: () => Promise<boolean | void>, intervalMs: number, onError: (error: unknown) => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const run = async () => {
    try {
      if ((await tick()) === false) stopped = true;
    } catch (error) {
      onError(error);
    }
    if (!stopped) timer = setTimeout(run, intervalMs).unref();
  };
  void run();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
