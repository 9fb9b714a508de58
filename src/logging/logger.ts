import winston from 'winston';
import Transport from 'winston-transport';
import type { Config } from '../config.js';
import { RotatingFileTransport } from './file-transport.js';
import { fileTroubleReporter } from './file-trouble.js';
import { parseSize } from './rotating-file.js';

export type Logger = winston.Logger;
/** A log record as it crosses process boundaries: only string keys. */
export type LogRecord = Record<string, unknown> & { level: string; message: string };

const SECRET_KEY = /authorization|cookie|password|passwd|secret|token|hash/i;
/** The keys seen so far and whether each names a secret: records have few distinct keys, tested once each. */
const secretKeys = new Map<string, boolean>();
const SECRET_KEYS_KEPT = 10_000;

/** isSecretKey tells whether a field's name names a secret (SECRET_KEY), remembering the answer. */
function isSecretKey(key: string): boolean {
  let secret = secretKeys.get(key);
  if (secret === undefined) {
    secret = SECRET_KEY.test(key);
    if (secretKeys.size < SECRET_KEYS_KEPT) secretKeys.set(key, secret);
  }
  return secret;
}

let isoMs = 0;
let isoText = '';

/** isoNow is new Date().toISOString(), made once per millisecond: the log stamps every record with it. */
function isoNow(): string {
  const now = Date.now();
  if (now !== isoMs) {
    isoMs = now;
    isoText = new Date(now).toISOString();
  }
  return isoText;
}

/** redactFields replaces, in place, every value whose key names a secret, at any depth. */
function redactFields<T extends Record<string, unknown>>(info: T): T {
  for (const key of Object.keys(info)) {
    const value = info[key];
    if (isSecretKey(key)) (info as Record<string, unknown>)[key] = '[redacted]';
    else if (value !== null && typeof value === 'object') (info as Record<string, unknown>)[key] = scrub(value, 0);
  }
  return info;
}

/** redact runs redactFields on every record, so no transport ever sees a secret. */
const redact = winston.format((info) => redactFields(info));

/**
 * requestLine renders the one line of a request as the file logger would (level, message,
 * time, the fields), through the same redaction, without the rest of winston's pipeline: it is
 * made for every request and handed as text to whoever writes the files.
 */
export function requestLine(record: Record<string, unknown>): string {
  return JSON.stringify(redactFields({ level: 'info', message: 'request', timestamp: isoNow(), ...record }));
}

/** stamp keeps the time a record was made, even when another process writes it. */
const stamp = winston.format((info) => {
  info.timestamp ??= isoNow();
  return info;
});

/** skipRequests drops the one-per-request lines. */
const skipRequests = winston.format((info) => (info.message === 'request' ? false : info));

function scrub(value: unknown, depth: number): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  if (value === null || typeof value !== 'object' || depth > 4) return value;
  if (Array.isArray(value)) return value.map((item) => scrub(item, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, isSecretKey(key) ? '[redacted]' : scrub(inner, depth + 1)]));
}

class ForwardTransport extends Transport {
  constructor(private readonly forward: (record: LogRecord) => void) {
    super();
  }

  override log(info: LogRecord, done: () => void): void {
    this.forward({ ...info });
    done();
  }
}

export interface LoggerOptions {
  /**
   * Print to stdout (JSON lines, or readable lines on a terminal); 'quiet' leaves out the
   * per-request lines, for a process whose records also go to files.
   */
  readonly console: boolean | 'quiet';
  /** Write the rotating files in config.log.dir; exactly one process of a group should. */
  readonly files: boolean;
  /** Distinguishes the files of processes that each write their own (PM2 instances). */
  readonly fileTag?: string;
  /** Hand every record to another process (a cluster worker sends them to its primary). */
  readonly forward?: (record: LogRecord) => void;
  /** Where the one warning goes when the files cannot be written, and the notice when they can again (default: stderr). */
  readonly onFileTrouble?: (line: string) => void;
}

/** createLogger builds a logger: JSON lines in rotating files (app 14 days, errors 30 days), readable lines on a terminal. */
export function createLogger(config: Pick<Config, 'log'>, options: LoggerOptions): Logger {
  const transports: winston.transport[] = [];
  if (options.console) {
    const display = process.stdout.isTTY ? winston.format.combine(winston.format.colorize(), winston.format.simple()) : winston.format.json();
    transports.push(
      new winston.transports.Console({
        format: options.console === 'quiet' ? winston.format.combine(skipRequests(), display) : display,
      }),
    );
  }
  if (options.files && config.log.dir) {
    const tag = options.fileTag ? `-${options.fileTag}` : '';
    const maxBytes = config.log.maxSize ? parseSize(config.log.maxSize) : null;
    const reporter = fileTroubleReporter(config.log.dir, options.onFileTrouble ?? ((line) => process.stderr.write(`${line}\n`)));
    transports.push(
      new RotatingFileTransport('app', { dir: config.log.dir, prefix: `app${tag}`, maxBytes, keepDays: 14 }, reporter),
      new RotatingFileTransport('error', { dir: config.log.dir, prefix: `error${tag}`, maxBytes, keepDays: 30 }, reporter, 'error'),
    );
  }
  if (options.forward) transports.push(new ForwardTransport(options.forward));
  const silent = config.log.level === 'silent' || transports.length === 0;
  return winston.createLogger({
    level: config.log.level === 'silent' ? 'error' : config.log.level,
    silent,
    format: winston.format.combine(stamp(), redact()),
    transports: transports.length ? transports : [new winston.transports.Console({ silent: true })],
  });
}

/**
 * appFileWriter writes lines that are already JSON (a worker's request lines) straight into the
 * app log files of a files-only logger, skipping its formats; null when it writes no files.
 */
export function appFileWriter(logger: Logger): ((line: string) => void) | null {
  const files = fileTransports(logger).filter((t) => t.kind === 'app');
  if (files.length === 0 || logger.silent) return null;
  return (line) => {
    for (const file of files) file.writeLine(line);
  };
}

/** fileTransports lists the log files a logger writes. */
export function fileTransports(logger: Logger): RotatingFileTransport[] {
  return logger.transports.filter((t): t is RotatingFileTransport => t instanceof RotatingFileTransport);
}
