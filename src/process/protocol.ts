import type { Worker } from 'node:cluster';
import type { LogRecord } from '../logging/logger.js';
import type { StatusReport } from '../status/report.js';
import type { ProcessSample } from '../status/sample.js';

/**
 * Every message between the cluster primary and its workers, both directions, in one place.
 * The channel also carries messages of two libraries, which handle them themselves:
 * prom-client's AggregatorRegistry (`prom-client:getMetricsReq`/`…Res`, the primary gathering
 * every worker's registry) and rate-limiter-flexible's RateLimiterCluster (`channel:
 * 'rate_limiter_flexible'`, the per-host counts the primary holds). Stopping a worker is not a
 * message: the primary sends it SIGTERM, which cannot be lost the way a message sent before
 * the worker listens for messages is.
 */

/** A log record, or a request line already serialized as JSON (the hot path). */
export type ForwardedLog = LogRecord | string;

/** What a worker tells its primary. */
export type WorkerMessage =
  /** It listens and takes traffic. */
  | { type: 'ready'; port: number }
  /** It stops on its own (a signal it received, its primary gone): its exit is no crash. */
  | { type: 'stopping'; reason: string }
  | { type: 'logs'; records: ForwardedLog[] }
  /** Where may it append its request lines itself? The primary answers with a log-file. */
  | { type: 'log-file-request' }
  /** Sent last before exiting, with a callback: every earlier message has left by then. */
  | { type: 'flush' }
  /** Its server is closed: the primary answers once it has handed it every connection it ever will. */
  | { type: 'closed' }
  /** /metrics on this worker: the primary answers with the whole group's text. */
  | { type: 'metrics-request'; id: string }
  /** The status view on this worker: the primary answers with the group's report. */
  | { type: 'status-request'; id: string }
  /** This worker's instruments, as the primary asked for them at the end of an interval. */
  | { type: 'status-sample'; id: string; sample: ProcessSample };

/** What the primary tells a worker. */
export type PrimaryMessage =
  | { type: 'closed-ack' }
  | { type: 'metrics-response'; id: string; text?: string; error?: string }
  | { type: 'status-response'; id: string; report?: StatusReport; error?: string }
  /** The end of a sampling interval: the worker answers with a status-sample. */
  | { type: 'status-sample-request'; id: string }
  /** The app log file workers append their request lines to from now on (null: send them to the primary). */
  | { type: 'log-file'; path: string | null };

/** The exit status of a worker that refuses to run because its code differs from its primary's. */
export const EXIT_MIXED_VERSIONS = 3;

/** The environment variable by which the primary hands its workers the identity of its code. */
export const PRIMARY_CODE_ENV = 'BACKEND_API_PRIMARY_CODE';

const WORKER_TYPES = new Set<string>(['ready', 'stopping', 'logs', 'log-file-request', 'flush', 'closed', 'metrics-request', 'status-request', 'status-sample']);
const PRIMARY_TYPES = new Set<string>(['closed-ack', 'metrics-response', 'status-response', 'status-sample-request', 'log-file']);

/** isWorkerMessage tells our messages from a worker apart from the libraries' on the same channel. */
export function isWorkerMessage(message: unknown): message is WorkerMessage {
  return typeof (message as { type?: unknown } | null)?.type === 'string' && WORKER_TYPES.has((message as { type: string }).type);
}

/** isPrimaryMessage tells our messages from the primary apart from the libraries' on the same channel. */
export function isPrimaryMessage(message: unknown): message is PrimaryMessage {
  return typeof (message as { type?: unknown } | null)?.type === 'string' && PRIMARY_TYPES.has((message as { type: string }).type);
}

/**
 * sendToPrimary sends if the channel is open and never throws nor emits: a primary that is
 * gone is the 'disconnect' handler's business. Resolves false when the message did not leave.
 */
export function sendToPrimary(message: WorkerMessage | 'ready'): Promise<boolean> {
  return new Promise((resolve) => {
    if (!process.connected || !process.send) return resolve(false);
    try {
      process.send(message, undefined, {}, (error) => resolve(!error));
    } catch {
      resolve(false);
    }
  });
}

/**
 * sendToWorker sends to a worker if it is still connected; a worker that is going is not an
 * error. Returns whether the message was handed to the channel.
 */
export function sendToWorker(worker: Worker, message: PrimaryMessage): boolean {
  if (!worker.isConnected()) return false;
  try {
    worker.send(message, undefined, () => {});
    return true;
  } catch {
    // Disconnected between the check and the send.
    return false;
  }
}
