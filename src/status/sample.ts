import type { DependencyState } from '../health/states.js';
import type { Metrics } from '../metrics/metrics.js';

/** RouteCounts are one route's cumulative counts, read from http_requests_total and its duration histogram. */
export interface RouteCounts {
  count: number;
  serverErrors: number;
  rateLimited: number;
  /** Cumulative histogram buckets: buckets[i] counts durations ≤ bounds[i]; the last one is +Inf. */
  buckets: number[];
}

/** ProcessSample is what one serving process tells the status view: its counters so far and its state now. */
export interface ProcessSample {
  readonly pid: number;
  readonly startedAt: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly redis: DependencyState;
  readonly cacheHits: number;
  readonly cacheMisses: number;
  /** The histogram's finite upper bounds, in seconds. */
  readonly bounds: number[];
  /** By "METHOD /route/template"; "unmatched" for requests no operation took (404s, and 429s of the global limit). */
  readonly routes: Record<string, RouteCounts>;
}

type Labels = Partial<Record<string, string | number>>;

// Once per process: recomputed at each sample, two clocks would make it jitter by a millisecond.
const STARTED_AT = Math.round(Date.now() - process.uptime() * 1000);

/**
 * takeSample reads this process's own registry (the instruments /metrics exposes) into a
 * ProcessSample: counters stay cumulative, so whoever keeps the samples can take differences.
 */
export async function takeSample(metrics: Metrics, redisState: () => DependencyState): Promise<ProcessSample> {
  const [requests, durations, cache] = await Promise.all([metrics.requests.get(), metrics.requestDuration.get(), metrics.cacheResults.get()]);
  const bucketValues = durations.values.filter((v) => v.metricName?.endsWith('_bucket'));
  const bounds = [...new Set(bucketValues.map((v) => Number((v.labels as Labels).le)).filter(Number.isFinite))].sort((a, b) => a - b);
  const routes: Record<string, RouteCounts> = {};
  const route = (labels: Labels) => (routes[`${labels.method} ${labels.route}`] ??= { count: 0, serverErrors: 0, rateLimited: 0, buckets: Array<number>(bounds.length + 1).fill(0) });
  for (const { labels, value } of requests.values) {
    const counts = route(labels);
    const status = Number(labels.status);
    counts.count += value;
    if (status >= 500) counts.serverErrors += value;
    else if (status === 429) counts.rateLimited += value;
  }
  for (const { labels, value } of bucketValues) {
    const le = Number((labels as Labels).le);
    const at = Number.isFinite(le) ? bounds.indexOf(le) : bounds.length;
    (route(labels).buckets[at] as number) += value;
  }
  const cacheCount = (result: string) => cache.values.filter((v) => v.labels.result === result).reduce((sum, v) => sum + v.value, 0);
  const memory = process.memoryUsage();
  return {
    pid: process.pid,
    startedAt: STARTED_AT,
    rssBytes: memory.rss,
    heapUsedBytes: memory.heapUsed,
    redis: redisState(),
    cacheHits: cacheCount('hit'),
    cacheMisses: cacheCount('miss'),
    bounds,
    routes,
  };
}
