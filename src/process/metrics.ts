import type { Worker } from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { AggregatorRegistry, Counter, Registry, collectDefaultMetrics } from 'prom-client';
import type { Metrics } from '../metrics/metrics.js';
import { sendToWorker } from './protocol.js';
import type { PrimaryLink } from './worker-link.js';

/** The Prometheus text /metrics serves. */
export type MetricsText = { contentType: string; text: string };

const TIMEOUT_MS = 5000;

/** ownMetrics reports this process alone (one process, or a PM2 instance). */
export function ownMetrics(metrics: Metrics): () => Promise<MetricsText> {
  return async () => ({ contentType: metrics.registry.contentType, text: await metrics.registry.metrics() });
}

/**
 * groupMetrics is /metrics in a cluster worker: it asks the primary, which gathers every worker's
 * registry (prom-client's AggregatorRegistry, whose listener the constructor installs here) and
 * adds its own.
 */
export function groupMetrics(metrics: Metrics, link: PrimaryLink): () => Promise<MetricsText> {
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([metrics.registry]);
  return async () => {
    const id = randomUUID();
    const answer = await link.ask(
      { type: 'metrics-request', id },
      (message): message is { type: 'metrics-response'; id: string; text?: string; error?: string } =>
        message.type === 'metrics-response' && message.id === id,
      TIMEOUT_MS,
    );
    if (answer === null) throw new Error('the primary did not send metrics in time');
    if (answer.text === undefined) throw new Error(answer.error ?? 'no metrics');
    return { contentType: metrics.registry.contentType, text: answer.text };
  };
}

/** PrimaryMetrics is the primary's side: its own counters, and the aggregation a worker asks for. */
export interface PrimaryMetrics {
  /** The primary's own registry, where its other instruments register too. */
  readonly registry: Registry;
  readonly workerRestarts: Counter;
  /** answer sends a worker the whole group's metrics. */
  answer(worker: Worker, id: string): void;
}

/** createPrimaryMetrics sets up aggregation in the cluster primary. */
export function createPrimaryMetrics(): PrimaryMetrics {
  const aggregator = new AggregatorRegistry();
  const own = new Registry();
  collectDefaultMetrics({ register: own, prefix: 'primary_' });
  const workerRestarts = new Counter({
    name: 'worker_restarts_total',
    help: 'Workers that died unexpectedly and were replaced.',
    registers: [own],
  });
  return {
    registry: own,
    workerRestarts,
    answer(worker, id) {
      Promise.all([aggregator.clusterMetrics(), own.metrics()]).then(
        ([workers, primary]) => sendToWorker(worker, { type: 'metrics-response', id, text: `${workers}\n${primary}` }),
        (error: Error) => sendToWorker(worker, { type: 'metrics-response', id, error: error.message }),
      );
    },
  };
}
