import type { FileTrouble } from './rotating-file.js';

/** FileTroubleReporter hears from every log file of a process: its troubles and its successful writes. */
export interface FileTroubleReporter {
  trouble(trouble: FileTrouble): void;
  wrote(): void;
}

/**
 * fileTroubleReporter says once that the log files cannot be written (not once per line), and
 * once that they can again, with the count of lines lost in between: a full log disk must never
 * take the API down, and must not bury stderr either. A disk on the edge lets small writes
 * through between failures, so "writable again" waits for a write that succeeds `quietMs` after
 * the last failure (a successful write, not a timer: a process stalled for a while has not
 * shown that anything works).
 */
export function fileTroubleReporter(dir: string, say: (line: string) => void, quietMs = 2000, now: () => number = Date.now): FileTroubleReporter {
  const failing = new Set<string>();
  let inTrouble = false;
  let dropped = 0;
  let lastFailure = 0;
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
      if (!inTrouble || failing.size > 0 || now() - lastFailure < quietMs) return;
      inTrouble = false;
      say(line('info', 'log files writable again', { dropped }));
    },
  };
}
