import { randomUUID } from 'node:crypto';
import type { DependencyState, Lifecycle } from '../health/routes.js';
import { problems } from '../http/errors.js';
import type { Logger } from '../logging/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { StatusMessage } from './primary-status.js';
import { buildReport, type StatusMode, type StatusReport } from './report.js';
import { createSampleRing } from './ring.js';
import { takeSample } from './sample.js';
import { HISTORY_INTERVALS, HISTORY_SECONDS, SAMPLE_INTERVAL_MS, databaseBytes, everyInterval } from './sampler.js';

/** A StatusSource answers with the status report of the group this process serves for. */
export type StatusSource = () => Promise<StatusReport>;

interface StatusSourceDeps {
  readonly mode: StatusMode;
  readonly metrics: Metrics;
  readonly redisState: () => DependencyState;
  readonly databasePath: string;
  readonly lifecycle: Lifecycle;
  readonly logger: Logger;
}

const PRIMARY_TIMEOUT_MS = 5000;

/**
 * statusSource: a cluster worker lends its registry to the primary's sampler and asks the primary
 * for the report of the whole group. A process on its own (in-process, or a PM2 instance, which
 * has no primary of ours) samples itself into a ring of its own, until its server drains.
 */
export function statusSource(deps: StatusSourceDeps): StatusSource {
  const sample = () => takeSample(deps.metrics, deps.redisState);
  return deps.mode === 'cluster' ? askPrimary(sample) : sampleAlone(deps, sample);
}

function askPrimary(sample: () => ReturnType<typeof takeSample>): StatusSource {
  const pending = new Map<string, (message: Extract<StatusMessage, { type: 'status-response' }>) => void>();
  process.on('message', (message: StatusMessage) => {
    if (message?.type === 'status-sample-request') {
      void sample().then((s) => process.connected && process.send?.({ type: 'status-sample', id: message.id, sample: s } satisfies StatusMessage));
    } else if (message?.type === 'status-response') {
      pending.get(message.id)?.(message);
    }
  });
  return () =>
    new Promise((resolve, reject) => {
      const id = randomUUID();
      const timer = setTimeout(() => (pending.delete(id), reject(problems.unavailable('The primary did not send the status in time.'))), PRIMARY_TIMEOUT_MS);
      pending.set(id, (response) => {
        clearTimeout(timer);
        pending.delete(id);
        if (response.report) resolve(response.report);
        else reject(new Error(response.error ?? 'no status report'));
      });
      process.send?.({ type: 'status-request', id } satisfies StatusMessage);
    });
}

function sampleAlone(deps: StatusSourceDeps, sample: () => ReturnType<typeof takeSample>): StatusSource {
  const ring = createSampleRing(HISTORY_INTERVALS);
  everyInterval(
    async () => {
      if (deps.lifecycle.state === 'stopping') return false;
      const at = Date.now();
      ring.record(at, [await sample()], [process.pid], { ...databaseBytes(deps.databasePath), primaryRssBytes: null, restarts: 0 });
    },
    SAMPLE_INTERVAL_MS,
    (error) => deps.logger.warn('status sampling failed', { error }),
  );
  const meta = () => ({ mode: deps.mode, sampleIntervalSeconds: SAMPLE_INTERVAL_MS / 1000, historySeconds: HISTORY_SECONDS, primary: null, now: Date.now() });
  return async () => buildReport(ring, meta());
}
