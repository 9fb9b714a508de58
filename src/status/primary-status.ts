import cluster, { type Worker } from 'node:cluster';
import type { Counter } from 'prom-client';
import type { Logger } from '../logging/logger.js';
import { sendToWorker, type WorkerMessage } from '../process/protocol.js';
import { buildReport } from './report.js';
import { createSampleRing } from './ring.js';
import type { ProcessSample } from './sample.js';
import { HISTORY_INTERVALS, HISTORY_SECONDS, SAMPLE_INTERVAL_MS, databaseBytes, everyInterval } from './sampler.js';

/** A worker busier than this misses one tick; its requests are counted at the next. */
const SAMPLE_TIMEOUT_MS = 1000;

/** PrimaryStatus is the primary's side of the status view: it samples the workers and answers their status requests. */
export interface PrimaryStatus {
  /** handle takes a worker's status messages (the protocol's status-request and status-sample). */
  handle(worker: Worker, message: Extract<WorkerMessage, { type: 'status-request' | 'status-sample' }>): void;
  stop(): void;
}

interface PrimaryStatusDeps {
  readonly databasePath: string;
  readonly workerRestarts: Counter;
  readonly logger: Logger;
}

/**
 * startPrimaryStatus samples every worker's registry every SAMPLE_INTERVAL_MS and keeps the
 * last HISTORY_INTERVALS intervals, so a status request reads the whole group's recent past.
 */
export function startPrimaryStatus({ databasePath, workerRestarts, logger }: PrimaryStatusDeps): PrimaryStatus {
  const primaryStartedAt = Math.round(Date.now() - process.uptime() * 1000);
  const ring = createSampleRing(HISTORY_INTERVALS);
  const pending = new Map<string, (sample: ProcessSample) => void>();
  let ticks = 0;

  function ask(worker: Worker, id: string): Promise<ProcessSample | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => (pending.delete(id), resolve(null)), SAMPLE_TIMEOUT_MS);
      const done = (sample: ProcessSample | null) => (clearTimeout(timer), pending.delete(id), resolve(sample));
      pending.set(id, done);
      if (!sendToWorker(worker, { type: 'status-sample-request', id })) done(null);
    });
  }

  async function tick(): Promise<void> {
    // The interval ends when the samples are asked for: everything counted before is in them.
    const at = Date.now();
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
    const tickId = ++ticks;
    const samples = (await Promise.all(workers.map((w) => ask(w, `${tickId}/${w.id}`)))).filter((s): s is ProcessSample => s !== null);
    const restarts = (await workerRestarts.get()).values[0]?.value ?? 0;
    const live = Object.values(cluster.workers ?? {}).flatMap((w) => (w?.process.pid ? [w.process.pid] : []));
    ring.record(at, samples, live, { ...databaseBytes(databasePath), primaryRssBytes: process.memoryUsage().rss, restarts });
  }

  const stop = everyInterval(tick, SAMPLE_INTERVAL_MS, (error) => logger.warn('status sampling failed', { error }));

  return {
    handle(worker, message) {
      if (message.type === 'status-sample') {
        pending.get(message.id)?.(message.sample);
        return;
      }
      const meta = { mode: 'cluster' as const, sampleIntervalSeconds: SAMPLE_INTERVAL_MS / 1000, historySeconds: HISTORY_SECONDS, primary: { pid: process.pid, startedAt: primaryStartedAt }, now: Date.now() };
      try {
        sendToWorker(worker, { type: 'status-response', id: message.id, report: buildReport(ring, meta) });
      } catch (error) {
        sendToWorker(worker, { type: 'status-response', id: message.id, error: (error as Error).message });
      }
    },
    stop,
  };
}
