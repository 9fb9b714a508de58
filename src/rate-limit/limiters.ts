import type { Redis } from 'ioredis';
import { RateLimiterCluster, RateLimiterMemory, RateLimiterRedis, RateLimiterSQLite, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Db } from '../db/database.js';

export interface LimiterSpec {
  readonly keyPrefix: string;
  readonly points: number;
  readonly durationSeconds: number;
  readonly blockSeconds?: number;
}

/** A LimiterFactory makes limiters that share their counts as widely as the process model allows. */
export type LimiterFactory = (spec: LimiterSpec) => RateLimiterAbstract;

/**
 * Where the processes of one host can keep a count together, which their process model decides:
 * in our cluster primary, in the SQLite file PM2 instances share, or in the one process there is.
 */
export type HostCounts = { readonly kind: 'primary' } | { readonly kind: 'memory' } | { readonly kind: 'sqlite'; readonly db: Db };

/**
 * limiterFactory: with Redis, counts live in Redis (shared by every worker and host) and, while
 * Redis fails, in an insurance limiter; that, and the limiter without Redis, is shared by the
 * workers of this host through our cluster primary (RateLimiterCluster), or in-process when the
 * process is alone. Under PM2 there is no primary of ours to hold them, so the instances share
 * them in the SQLite file they already share (one small write per counted request).
 */
export function limiterFactory(redis: Redis | null, host: HostCounts): LimiterFactory {
  return (spec) => {
    const options = {
      keyPrefix: spec.keyPrefix,
      points: spec.points,
      duration: spec.durationSeconds,
      ...(spec.blockSeconds ? { blockDuration: spec.blockSeconds } : {}),
    };
    const local =
      host.kind === 'primary'
        ? new RateLimiterCluster({ ...options, timeoutMs: 1000 })
        : host.kind === 'sqlite'
          ? new RateLimiterSQLite({ ...options, storeClient: host.db, storeType: 'better-sqlite3', tableName: 'rate_limits' })
          : new RateLimiterMemory(options);
    if (!redis) return local;
    return new RateLimiterRedis({ ...options, storeClient: redis, rejectIfRedisNotReady: true, insuranceLimiter: local });
  };
}
