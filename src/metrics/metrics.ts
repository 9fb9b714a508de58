import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Metrics are one process's instruments, in a registry of their own (a test can build many apps). */
export interface Metrics {
  readonly registry: Registry;
  readonly requests: Counter<'method' | 'route' | 'status'>;
  readonly requestDuration: Histogram<'method' | 'route' | 'status'>;
  readonly cacheResults: Counter<'result'>;
  readonly rateLimited: Counter<'limiter'>;
  readonly busyRetries: Counter;
  readonly redisUp: Gauge;
  /** watchRedis tells the redis_up gauge where to read the connection state at each scrape. */
  watchRedis(isUp: () => boolean): void;
}

/** createMetrics registers the API's metrics and node's process metrics in a new registry. */
export function createMetrics(): Metrics {
  const registry = new Registry();
  let redisIsUp = () => false;
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    requests: new Counter({
      name: 'http_requests_total',
      help: 'Requests answered, by method, route template and status.',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    requestDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from the first byte of a request to the end of its response.',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    cacheResults: new Counter({
      name: 'cache_results_total',
      help: 'Response cache lookups by result (hit or miss).',
      labelNames: ['result'],
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: 'rate_limit_rejections_total',
      help: 'Requests refused with 429, by limiter.',
      labelNames: ['limiter'],
      registers: [registry],
    }),
    busyRetries: new Counter({
      name: 'sqlite_busy_retries_total',
      help: 'Write transactions retried after SQLITE_BUSY.',
      registers: [registry],
    }),
    redisUp: new Gauge({
      name: 'redis_up',
      help: '1 when this process is connected to Redis, 0 when not (summed over workers).',
      registers: [registry],
      collect() {
        this.set(redisIsUp() ? 1 : 0);
      },
    }),
    watchRedis(isUp) {
      redisIsUp = isUp;
    },
  };
}
