import cluster, { type Worker } from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { AggregatorRegistry, Counter, Registry, collectDefaultMetrics } from 'prom-client';
import type { Metrics } from './metrics.js';

export type MetricsText = { contentType: string; text: string };
type MetricsRequest = { type: 'metrics-request'; id: string };
type MetricsResponse = { type: 'metrics-response'; id: string; text?: string; error?: string };

const TIMEOUT_MS = 5000;

/**
 * metricsCollector returns how /metrics gathers its text. In a worker of our cluster it asks the
 * primary, which aggregates every worker's registry (prom-client's AggregatorRegistry) and adds
 * its own; a process on its own, or a PM2 instance (a cluster worker whose primary is PM2's),
 * reports just itself.
 */
export function metricsCollector(metrics: Metrics, ourCluster = cluster.isWorker): () => Promise<MetricsText> {
  if (!ourCluster) {
    return async () => ({ contentType: metrics.registry.contentType, text: await metrics.registry.metrics() });
  }
  // Constructing one installs the listener that answers the primary's requests for this registry.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([metrics.registry]);
  const pending = new Map<string, (response: MetricsResponse) => void>();
  process.on('message', (message: MetricsResponse) => {
    if (message?.type === 'metrics-response') pending.get(message.id)?.(message);
  });
  return () =>
    new Promise((resolve, reject) => {
      const id = randomUUID();
      const timer = setTimeout(() => (pending.delete(id), reject(new Error('the primary did not send metrics in time'))), TIMEOUT_MS);
      pending.set(id, (response) => {
        clearTimeout(timer);
        pending.delete(id);
        if (response.text === undefined) reject(new Error(response.error ?? 'no metrics'));
        else resolve({ contentType: metrics.registry.contentType, text: response.text });
      });
      process.send?.({ type: 'metrics-request', id } satisfies MetricsRequest);
    });
}

/** PrimaryMetrics is the primary's side: its own counters, and the aggregation a worker asks for. */
export interface PrimaryMetrics {
  /** The primary's own registry, where its other instruments register too. */
  readonly registry: Registry;
  readonly workerRestarts: Counter;
  handle(worker: Worker, message: unknown): boolean;
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
    handle(worker, message) {
      if ((message as MetricsRequest | null)?.type !== 'metrics-request') return false;
      const { id } = message as MetricsRequest;
      Promise.all([aggregator.clusterMetrics(), own.metrics()]).then(
        ([workers, primary]) => worker.isConnected() && worker.send({ type: 'metrics-response', id, text: `${workers}\n${primary}` }),
        (error: Error) => worker.isConnected() && worker.send({ type: 'metrics-response', id, error: error.message }),
      );
      return true;
    },
  };
}
