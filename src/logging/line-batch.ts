const FLUSH_AT_BYTES = 64 * 1024;

/** A LineBatch gathers log lines and hands them on together. */
export interface LineBatch {
  push(line: string): void;
  /** flush hands on every line gathered so far, now. */
  flush(): void;
}

/**
 * lineBatch gathers the lines of one turn of the event loop, or 64 kB of them, and hands them to
 * write in one call: one write(2) for a burst of requests instead of one per line.
 */
export function lineBatch(write: (lines: string[]) => void): LineBatch {
  let pending: string[] = [];
  let pendingBytes = 0;
  let scheduled = false;

  function flush(): void {
    scheduled = false;
    if (pending.length === 0) return;
    const lines = pending;
    pending = [];
    pendingBytes = 0;
    write(lines);
  }

  return {
    push(line) {
      pending.push(line);
      pendingBytes += line.length;
      if (pendingBytes >= FLUSH_AT_BYTES) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
}
