import { randomUUID } from 'node:crypto';
import type { DependencyState, Lifecycle } from '../health/states.js';
import { problems } from '../http/errors.js';
import type { Logger } from '../logging/logger.js';
import type { ProcessModel } from '../process/model.js';
import type { PrimaryMessage } from '../process/protocol.js';
import type { PrimaryLink } from '../process/worker-link.js';
import { buildReport, type StatusMode, type StatusReport } from './report.js';
import { createSampleRing } from './ring.js';
import { takeSample } from './sample.js';
import { HISTORY_INTERVALS, HISTORY_SECONDS, SAMPLE_INTERVAL_MS, databaseBytes, everyInterval } from './sampler.js';

/** A StatusSource answers with the status report of the group this process serves for. */
export type StatusSource = () => Promise<StatusReport>;

interface StatusSourceDeps {
  readonly model: ProcessModel;
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
  const sample = () => takeSample(deps.model.metrics, deps.redisState);
  const link = deps.model.link;
  if (link) return askPrimary(link, sample);
  return sampleAlone(deps, deps.model.kind === 'pm2' ? 'pm2' : 'standalone', sample);
}

function askPrimary(link: PrimaryLink, sample: () => ReturnType<typeof takeSample>): StatusSource {
  link.listen((message) => {
    if (message.type === 'status-sample-request') void sample().then((s) => link.send({ type: 'status-sample', id: message.id, sample: s }));
  });
  return async () => {
    const id = randomUUID();
    const answer = await link.ask(
      { type: 'status-request', id },
      (message): message is Extract<PrimaryMessage, { type: 'status-response' }> => message.type === 'status-response' && message.id === id,
      PRIMARY_TIMEOUT_MS,
    );
    if (answer === null) throw problems.unavailable('The primary did not send the status in time.');
    if (!answer.report) throw new Error(answer.error ?? 'no status report');
    return answer.report;
  };
}

function sampleAlone(deps: StatusSourceDeps, mode: StatusMode, sample: () => ReturnType<typeof takeSample>): StatusSource {
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
  const meta = () => ({ mode, sampleIntervalSeconds: SAMPLE_INTERVAL_MS / 1000, historySeconds: HISTORY_SECONDS, primary: null, now: Date.now() });
  return async () => buildReport(ring, meta());
}
