import { closeSync, openSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { APPEND_FLAGS, appendWhole } from './append.js';
import { lineBatch } from './line-batch.js';

/** Free space a batch must leave on the log filesystem to be written here; below it the owner writes (and counts what it drops). */
const ROOM_BYTES = 1024 * 1024;
/** How long after a write that failed this process hands its lines over before it asks for the file again. */
const RETRY_MS = 2000;

export interface SharedAppendOptions {
  /** Hands a line to the process that owns the files (it writes it, or counts it dropped). */
  readonly handOver: (line: string) => void;
  /** Asks the owner for the current path; the answer comes to use(). */
  readonly askForPath: () => void;
}

/** A SharedAppend appends whole lines straight into the file its owner names, or hands them over. */
export interface SharedAppend {
  /** use switches to the file at path (null: hand every line over until told a path). */
  use(path: string | null): void;
  write(line: string): void;
  /** flush writes (or hands over) every line queued so far, now. */
  flush(): void;
}

/**
 * sharedAppend is a worker's side of the log files the primary owns: request lines go straight
 * into the file with O_APPEND, a batch per turn of the event loop in one write(2), with no
 * message to the primary per line. The primary names the file and rotates it (it opens the next
 * and tells every worker), so every line lands exactly once, in the file that was current when it
 * was written. Whatever cannot be written here — no path yet, the disk nearly full, a write that
 * failed (its partial line cut back) — is handed over to the primary, which writes it or counts
 * it as dropped, and says so, as for its own lines; after a failure this asks again 2 s later.
 */
export function sharedAppend(options: SharedAppendOptions): SharedAppend {
  const { handOver, askForPath } = options;
  let fd: number | null = null;
  let dir = '';
  let retry: NodeJS.Timeout | undefined;

  function close(): void {
    if (fd !== null) closeSync(fd);
    fd = null;
  }

  function failed(lines: readonly string[]): void {
    close();
    for (const line of lines) handOver(line);
    retry ??= setTimeout(() => {
      retry = undefined;
      askForPath();
    }, RETRY_MS).unref();
  }

  function roomFor(bytes: number): boolean {
    const stats = statfsSync(dir);
    return stats.bavail * stats.bsize >= bytes + ROOM_BYTES;
  }

  const batch = lineBatch(function appendBatch(lines) {
    if (fd === null) return lines.forEach((line) => handOver(line));
    const bytes = Buffer.from(`${lines.join('\n')}\n`);
    try {
      if (!roomFor(bytes.length)) return failed(lines);
      appendWhole(fd, bytes);
    } catch {
      failed(lines);
    }
  });
  const flush = batch.flush;

  return {
    use(path) {
      flush();
      close();
      if (path === null) return;
      try {
        fd = openSync(path, APPEND_FLAGS);
        dir = dirname(path);
      } catch {
        failed([]);
      }
    },
    write(line) {
      if (fd === null) return handOver(line);
      batch.push(line);
    },
    flush,
  };
}
