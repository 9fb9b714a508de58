import cluster from 'node:cluster';
import type { Redis } from 'ioredis';
import { RateLimiterCluster, RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';

export interface LimiterSpec {
  readonly keyPrefix: string;
  readonly points: number;
  readonly durationSeconds: number;
  readonly blockSeconds?: number;
}

/** A LimiterFactory makes limiters that share their counts as widely as the process model allows. */
export type LimiterFactory = (spec: LimiterSpec) => RateLimiterAbstract;

/**
 * limiterFactory: with Redis, counts live in Redis (shared by every worker and host) and, while
 * Redis fails, in an insurance limiter; that, and the limiter without Redis, is shared by the
 * workers of this host through the cluster primary (RateLimiterCluster), or in-process when this
 * process is alone. A limit is never per worker.
 */
export function limiterFactory(redis: Redis | null): LimiterFactory {
  return (spec) => {
    const options = {
      keyPrefix: spec.keyPrefix,
      points: spec.points,
      duration: spec.durationSeconds,
      ...(spec.blockSeconds ? { blockDuration: spec.blockSeconds } : {}),
    };
    const local = cluster.isWorker ? new RateLimiterCluster({ ...options, timeoutMs: 1000 }) : new RateLimiterMemory(options);
    if (!redis) return local;
    return new RateLimiterRedis({ ...options, storeClient: redis, rejectIfRedisNotReady: true, insuranceLimiter: local });
  };
}
