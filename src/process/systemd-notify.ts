import { execFile } from 'node:child_process';
import type { Logger } from '../logging/logger.js';

/** systemd's default PATH for services: where systemd-notify lives on every distribution. */
const SERVICE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** systemd-notify waits up to 5 s for the manager's barrier; past this it is stuck. */
const SEND_TIMEOUT_MS = 10_000;
/** The primary's stop ends this long after SHUTDOWN_TIMEOUT at worst: the kill of late workers, the checkpoint, the log flush. */
const STOP_MARGIN_MS = 5000;

/** The readiness protocol of systemd (sd_notify(3)), as the primary uses it. */
export interface SystemdNotifier {
  /** ready says every worker listens (READY=1): `systemctl start` returns, a reload is over. */
  ready(status: string): void;
  /** reloading says a rolling restart began (RELOADING=1). */
  reloading(status: string): void;
  /** stopping says the drain began (STOPPING=1) and stretches the stop timeout to cover it. */
  stopping(status: string, shutdownTimeoutMs: number): void;
  /** status replaces the line `systemctl status` shows. */
  status(status: string): void;
  /** sent resolves once every message so far has been handed to the manager (or given up on). */
  sent(): Promise<void>;
}

export interface NotifierOptions {
  /** $NOTIFY_SOCKET as systemd set it; null outside a Type=notify unit, where nothing is sent. */
  readonly socket: string | null;
  readonly logger: Pick<Logger, 'warn'>;
  /** The program that sends one message: systemd-notify(1) unless a test says otherwise. */
  readonly command?: string;
}

/**
 * createSystemdNotifier speaks sd_notify through systemd-notify(1). Node has no unix datagram
 * sockets and the executable carries no addon for them, so each message is one short
 * systemd-notify process; the unit needs NotifyAccess=all because the sender is not the main
 * process. systemd-notify waits for the manager's barrier before it exits, so the manager
 * still finds it in the unit's cgroup when it reads the message. Messages leave one at a time,
 * in order (RELOADING=1 before its READY=1). A failure is logged and never stops the server.
 */
export function createSystemdNotifier(options: NotifierOptions): SystemdNotifier {
  const { socket, logger, command = 'systemd-notify' } = options;
  let queue = Promise.resolve();

  function send(fields: Record<string, string>): void {
    if (socket === null) return;
    const args = Object.entries(fields).map(([key, value]) => `${key}=${oneLine(value)}`);
    queue = queue.then(() => run(args));
  }

  function run(args: string[]): Promise<void> {
    return new Promise((resolve) => {
      execFile(command, args, { env: { NOTIFY_SOCKET: socket as string, PATH: SERVICE_PATH }, timeout: SEND_TIMEOUT_MS }, (error, _stdout, stderr) => {
        if (error) logger.warn('systemd notification failed', { fields: args.map((arg) => arg.split('=')[0]), error: stderr.trim() || error.message });
        resolve();
      });
    });
  }

  return {
    ready: (status) => send({ READY: '1', STATUS: status }),
    reloading: (status) => send({ RELOADING: '1', STATUS: status, MONOTONIC_USEC: monotonicUsec() }),
    stopping: (status, shutdownTimeoutMs) =>
      send({ STOPPING: '1', STATUS: status, EXTEND_TIMEOUT_USEC: String((shutdownTimeoutMs + STOP_MARGIN_MS) * 1000) }),
    status: (status) => send({ STATUS: status }),
    sent: () => queue,
  };
}

/** monotonicUsec is CLOCK_MONOTONIC in microseconds, which systemd 253+ wants beside RELOADING=1. */
function monotonicUsec(): string {
  return (process.hrtime.bigint() / 1000n).toString();
}

/** oneLine keeps a value from starting a second field: the protocol is newline-separated. */
function oneLine(value: string): string {
  return value.replace(/[\r\n]+/g, ' ');
}
