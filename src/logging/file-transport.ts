import winston from 'winston';
import Transport from 'winston-transport';
import type { FileTroubleReporter } from './file-trouble.js';
import { openRotatingFile, type RotatingFile, type RotatingFileOptions } from './rotating-file.js';
import { lineBatch } from './line-batch.js';

// Symbol.for('message') is the finished line a winston transport writes (triple-beam's MESSAGE).
const MESSAGE = Symbol.for('message');
/** How often a shared file's day and size are looked at: other processes write most of its lines. */
const ROTATION_CHECK_MS = 250;

/**
 * RotatingFileTransport is winston's side of a RotatingFile: lines of one turn of the event loop
 * go out in one write, so the cost per line stays low, and what cannot be written is dropped
 * and counted instead of crashing the process (winston-daily-rotate-file's stream died on ENOSPC).
 */
export class RotatingFileTransport extends Transport {
  /** Which files this is: "app" or "error", the label of log_lines_dropped_total. */
  readonly kind: 'app' | 'error';
  private readonly file: RotatingFile;
  private readonly reporter: FileTroubleReporter;
  private readonly shared: Array<(path: string) => void> = [];
  private readonly batch = lineBatch((lines) => {
    if (this.file.write(`${lines.join('\n')}\n`, lines.length)) this.reporter.wrote();
  });

  constructor(kind: 'app' | 'error', file: Omit<RotatingFileOptions, 'onTrouble'>, reporter: FileTroubleReporter, level?: string) {
    super({ format: winston.format.json(), ...(level ? { level } : {}) });
    this.kind = kind;
    this.reporter = reporter;
    this.file = openRotatingFile({ ...file, onTrouble: (trouble) => reporter.trouble(trouble), onOpen: (path) => this.offer(path) });
    reporter.onWritable(() => {
      const path = this.sharedPath();
      if (path !== null) this.offer(path);
    });
  }

  /**
   * share lets other processes append whole lines to these files themselves (see appendWhole):
   * listener hears the path now and each time it changes — a new file (the day, the size,
   * which this process now checks every 250 ms), or the files writable again after trouble.
   */
  share(listener: (path: string) => void): void {
    if (this.shared.length === 0) setInterval(() => this.file.rotateIfDue(), ROTATION_CHECK_MS).unref();
    this.shared.push(listener);
  }

  /** sharedPath is where other processes may append now; null while the files are in trouble (they hand their lines to this one). */
  sharedPath(): string | null {
    return this.reporter.healthy() ? this.file.path() : null;
  }

  private offer(path: string): void {
    if (this.reporter.healthy()) for (const listener of this.shared) listener(path);
  }

  /** Lines this transport could not write. */
  get dropped(): number {
    return this.file.dropped;
  }

  override log(info: Record<string | symbol, unknown>, done: () => void): void {
    this.writeLine(String(info[MESSAGE]));
    done();
  }

  /** writeLine queues a line that is already JSON (a worker's request line), skipping winston's formats. */
  writeLine(line: string): void {
    this.batch.push(line);
  }

  /** flush writes every queued line now. */
  flush(): void {
    this.batch.flush();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.close();
    callback();
  }

  override close(): void {
    this.flush();
    this.file.close();
  }
}
