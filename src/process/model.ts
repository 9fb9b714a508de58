import type { Db } from '../db/database.js';
import type { RequestLogger } from '../http/request-context.js';
import { createMetrics, type Metrics } from '../metrics/metrics.js';
import type { HostCounts } from '../rate-limit/limiters.js';
import { groupMetrics, ownMetrics, type MetricsText } from './metrics.js';
import { sharedMetricsCollector } from './pm2-metrics.js';
import type { PrimaryLink } from './worker-link.js';

/**
 * ProcessModel is what the way this process runs — a worker of our cluster primary, a PM2
 * instance, or a process on its own — gives the app. It is decided once, where the command
 * starts, and handed to buildApp, which therefore never looks at `cluster` or `process` events.
 */
export interface ProcessModel {
  readonly kind: 'cluster' | 'pm2' | 'single';
  /** Where the per-host rate-limit counts live. */
  readonly hostCounts: HostCounts;
  /** This process's instruments. */
  readonly metrics: Metrics;
  /** The Prometheus text of /metrics: the whole group's where the model can gather it. */
  readonly collectMetrics: () => Promise<MetricsText>;
  /** Writes the one line per request (default: through the app's logger, at info). */
  readonly logRequest?: RequestLogger;
  /** A cluster worker's channel to its primary (the status view asks it for the group's report). */
  readonly link?: PrimaryLink;
}

/** singleProcess is the model of a process serving on its own (the in-process tests). */
export function singleProcess(): ProcessModel {
  const metrics = createMetrics();
  return { kind: 'single', hostCounts: { kind: 'memory' }, metrics, collectMetrics: ownMetrics(metrics) };
}

/**
 * pm2Instance: no primary of ours, so the instances share their rate-limit counts and, when
 * /metrics exists at all (metricsOn), their metrics in the SQLite file they all open.
 */
export function pm2Instance(db: Db, metricsOn: boolean): ProcessModel {
  const metrics = createMetrics();
  const collectMetrics = metricsOn ? sharedMetricsCollector(db, metrics.registry) : () => Promise.reject(new Error('/metrics is off without METRICS_TOKEN'));
  return { kind: 'pm2', hostCounts: { kind: 'sqlite', db }, metrics, collectMetrics };
}

/** clusterWorker: the primary holds the per-host counts and gathers the group's metrics. */
export function clusterWorker(link: PrimaryLink, logRequest?: RequestLogger): ProcessModel {
  const metrics = createMetrics();
  return {
    kind: 'cluster',
    hostCounts: { kind: 'primary' },
    metrics,
    collectMetrics: groupMetrics(metrics, link),
    link,
    ...(logRequest ? { logRequest } : {}),
  };
}
