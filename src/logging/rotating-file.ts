import { closeSync, fstatSync, mkdirSync, openSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { APPEND_FLAGS, appendWhole, type AppendFailure } from './append.js';

export interface RotatingFileOptions {
  readonly dir: string;
  /** Files are named `${prefix}-YYYY-MM-DD.log`, then `.1`, `.2`… within a day once maxBytes is reached. */
  readonly prefix: string;
  readonly maxBytes: number | null;
  /** Files whose date is older than this many days are deleted when a new file is opened. */
  readonly keepDays: number;
  /** Told when writing starts failing (the first dropped line) and when it works again. */
  readonly onTrouble: (trouble: FileTrouble) => void;
  /** Told the path of each file it opens (a new day, a new size step). */
  readonly onOpen?: (path: string) => void;
}

/** What a RotatingFile reports, with the prefix of its files and the path it last wrote or tried. */
export type FileTrouble =
  | { readonly state: 'failing'; readonly prefix: string; readonly path: string; readonly error: NodeJS.ErrnoException }
  | { readonly state: 'recovered'; readonly prefix: string; readonly path: string; readonly dropped: number };

/** A RotatingFile appends whole lines to dated, size-capped files; a line that cannot be written is dropped and counted. */
export interface RotatingFile {
  /** write appends text made of `lines` complete lines; false when they were dropped (disk full, say). */
  write(text: string, lines: number): boolean;
  /** Lines dropped since the file was opened. */
  readonly dropped: number;
  /**
   * path opens the current file if it is not (or its day or size is over) and returns its path:
   * other processes may append whole lines to it; null when it cannot be opened.
   */
  path(): string | null;
  /** rotateIfDue opens the next file when the day or the size (whoever wrote it) says so. */
  rotateIfDue(): void;
  close(): void;
}

/** localDate is YYYY-MM-DD in local time, as the files have always been named. */
function localDate(now = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

/** parseSize turns LOG_MAX_SIZE (500k, 20m, 1g) into bytes. */
export function parseSize(size: string): number {
  const units: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
  return Number(size.slice(0, -1)) * (units[size.slice(-1).toLowerCase()] ?? 1);
}

/**
 * openRotatingFile writes with one synchronous append per batch, so it knows exactly which
 * lines reached the file: a batch that fails (ENOSPC, EIO, EDQUOT) is cut back to the last
 * whole line and counted as dropped, never left half written, and the next batch that goes in
 * starts with a JSON line saying how many lines are missing there. Nothing is retried or queued:
 * while the disk is full each batch costs one failing write(2), and the first batch that fits
 * once space is freed goes in. It never throws and never emits an error.
 */
export function openRotatingFile(options: RotatingFileOptions): RotatingFile {
  const { dir, prefix, maxBytes, keepDays, onTrouble } = options;
  // A directory that cannot be made is a configuration problem: say so at start.
  mkdirSync(dir, { recursive: true });
  const pattern = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(\\d{4}-\\d{2}-\\d{2})\\.log(?:\\.(\\d+))?$`);
  let fd: number | null = null;
  let path = '';
  let date = '';
  let index = 0;
  let size = 0;
  let dropped = 0;
  let droppedSinceTrouble = 0;
  // Dropped lines the file does not say are missing yet: the next write that works starts with a note.
  let unnoted = 0;
  let failing = false;
  // A cut that could not be undone left a partial line: the next write starts on a new line.
  let torn = false;

  const nameOf = (day: string, n: number) => join(dir, `${prefix}-${day}.log${n > 0 ? `.${n}` : ''}`);

  /** lastIndex finds today's newest file, to go on appending to it after a restart. */
  function lastIndex(day: string): number {
    let last = 0;
    for (const name of readdirSync(dir)) {
      const match = pattern.exec(name);
      if (match?.[1] === day) last = Math.max(last, Number(match[2] ?? 0));
    }
    return last;
  }

  function prune(): void {
    const oldest = localDate(new Date(Date.now() - keepDays * 86_400_000));
    for (const name of readdirSync(dir)) {
      const day = pattern.exec(name)?.[1];
      if (day !== undefined && day < oldest) {
        try {
          unlinkSync(join(dir, name));
        } catch {
          // Gone already, or not ours to delete: the next rotation tries again.
        }
      }
    }
  }

  function open(day: string, n: number): void {
    if (fd !== null) closeSync(fd);
    fd = null;
    date = day;
    index = n;
    path = nameOf(day, n);
    fd = openSync(path, APPEND_FLAGS, 0o640);
    size = fstatSync(fd).size;
    prune();
    options.onOpen?.(path);
  }

  function ensureOpen(): void {
    const today = localDate();
    if (fd === null || today !== date) {
      let n = today === date ? index : lastIndex(today);
      if (maxBytes !== null && fileSize(nameOf(today, n)) >= maxBytes) n++;
      open(today, n);
    } else if (maxBytes !== null && size >= maxBytes) {
      open(date, index + 1);
    }
  }

  function append(text: string): void {
    const bytes = Buffer.from(torn ? `\n${text}` : text);
    try {
      appendWhole(fd as number, bytes);
    } catch (error) {
      if ((error as AppendFailure).torn) torn = true;
      throw error;
    }
    size += bytes.length;
    torn = false;
  }

  return {
    write(text, lines) {
      try {
        ensureOpen();
        append(unnoted > 0 ? `${gapNote(unnoted)}\n${text}` : text);
        unnoted = 0;
      } catch (error) {
        dropped += lines;
        droppedSinceTrouble += lines;
        unnoted += lines;
        if (!failing) {
          failing = true;
          onTrouble({ state: 'failing', prefix, path: path || nameOf(localDate(), 0), error: error as NodeJS.ErrnoException });
        }
        return false;
      }
      if (failing) {
        const lost = droppedSinceTrouble;
        failing = false;
        droppedSinceTrouble = 0;
        onTrouble({ state: 'recovered', prefix, path, dropped: lost });
      }
      return true;
    },
    get dropped() {
      return dropped;
    },
    path() {
      try {
        ensureOpen();
        return path;
      } catch {
        return null;
      }
    },
    rotateIfDue() {
      if (fd === null) return;
      try {
        // Other processes append to the file too: its size is the file's, not what this one wrote.
        size = fstatSync(fd).size;
        ensureOpen();
      } catch {
        // The next write tries again, and reports.
      }
    },
    close() {
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}

/** gapNote is the JSON line that stands where lines could not be written, with how many. */
function gapNote(dropped: number): string {
  return JSON.stringify({ level: 'warn', message: 'log lines dropped: the log files could not be written', dropped, pid: process.pid, timestamp: new Date().toISOString() });
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
