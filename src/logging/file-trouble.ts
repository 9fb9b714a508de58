import { statfsSync } from 'node:fs';
import type { FileTrouble } from './rotating-file.js';

/** Free space on the log filesystem below which a write that worked proves little (the end of a page had room). */
const SPACE_BACK_BYTES = 1024 * 1024;

/** FileTroubleReporter hears from every log file of a process: its troubles and its successful writes. */
export interface FileTroubleReporter {
  trouble(trouble: FileTrouble): void;
  wrote(): void;
  /** healthy is false from the warning to the notice that the files are writable again. */
  healthy(): boolean;
  /** onWritable calls back at each such notice. */
  onWritable(listener: () => void): void;
}

export interface ReporterClock {
  readonly now: () => number;
  /** Bytes left on the log filesystem. */
  readonly spaceLeft: () => number;
}

/**
 * fileTroubleReporter says once that the log files cannot be written (not once per line), and
 * once that they can again, with the count of lines lost in between: a full log disk must never
 * take the API down, and must not bury stderr either. A full disk still takes a small write now
 * and then (what is left of a file's last page), so "writable again" waits for a write that
 * works `quietMs` after the last failure, with a megabyte free (a write, not a timer: a process
 * stalled for a while has not shown that anything works).
 */
export function fileTroubleReporter(dir: string, say: (line: string) => void, quietMs = 2000, clock: ReporterClock = systemClock(dir)): FileTroubleReporter {
  const { now, spaceLeft } = clock;
  const failing = new Set<string>();
  let inTrouble = false;
  let dropped = 0;
  let lastFailure = 0;
  const writable: Array<() => void> = [];
  const line = (level: string, message: string, meta: Record<string, unknown>) =>
    JSON.stringify({ level, message, ...meta, dir, pid: process.pid, timestamp: new Date().toISOString() });
  return {
    trouble(trouble) {
      if (trouble.state === 'recovered') {
        dropped += trouble.dropped;
        failing.delete(trouble.prefix);
        return;
      }
      lastFailure = now();
      failing.add(trouble.prefix);
      if (inTrouble) return;
      inTrouble = true;
      dropped = 0;
      say(line('warn', 'log files cannot be written; dropping log lines until they can (counted in log_lines_dropped_total)', { error: trouble.error.code ?? trouble.error.message }));
    },
    wrote() {
      if (!inTrouble || failing.size > 0 || now() - lastFailure < quietMs || spaceLeft() < SPACE_BACK_BYTES) return;
      inTrouble = false;
      say(line('info', 'log files writable again', { dropped }));
      for (const listener of writable) listener();
    },
    healthy: () => !inTrouble,
    onWritable(listener) {
      writable.push(listener);
    },
  };
}

function systemClock(dir: string): ReporterClock {
  return {
    now: Date.now,
    spaceLeft() {
      try {
        const stats = statfsSync(dir);
        return stats.bavail * stats.bsize;
      } catch {
        return 0;
      }
    },
  };
}
