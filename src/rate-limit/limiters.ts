import type { Redis } from 'ioredis';
import { RateLimiterCluster, RateLimiterMemory, RateLimiterRedis, RateLimiterRes, RateLimiterSQLite, type RateLimiterAbstract } from 'rate-limiter-flexible';
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
export type HostCounts =
  /** primaryGone: the worker's primary has disconnected (the worker drains what it has in flight). */
  | { readonly kind: 'primary'; readonly primaryGone: () => boolean }
  | { readonly kind: 'memory' }
  | { readonly kind: 'sqlite'; readonly db: Db };

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
        ? primaryOrOwn(new RateLimiterCluster({ ...options, timeoutMs: 1000 }), new RateLimiterMemory(options), host.primaryGone)
        : host.kind === 'sqlite'
          ? new RateLimiterSQLite({ ...options, storeClient: host.db, storeType: 'better-sqlite3', tableName: 'rate_limits' })
          : new RateLimiterMemory(options);
    if (!redis) return local;
    return new RateLimiterRedis({ ...options, storeClient: redis, rejectIfRedisNotReady: true, insuranceLimiter: local });
  };
}

/**
 * primaryOrOwn counts in the primary while there is one. A worker whose primary died accepts
 * nothing new and drains what it has in flight: those requests are counted in the worker itself
 * (a call sent to the primary as it died is asked again here), instead of failing for want of a
 * store, which a login would answer with 503.
 */
function primaryOrOwn(primary: RateLimiterCluster, own: RateLimiterMemory, primaryGone: () => boolean): RateLimiterAbstract {
  const call =
    <A extends unknown[], R>(method: (limiter: RateLimiterAbstract, ...args: A) => Promise<R>) =>
    (...args: A): Promise<R> => {
      if (primaryGone()) return method(own, ...args);
      return method(primary, ...args).catch((error: unknown) => {
        if (primaryGone() && !(error instanceof RateLimiterRes)) return method(own, ...args);
        throw error;
      });
    };
  return Object.assign(Object.create(primary) as RateLimiterAbstract, {
    consume: call((l, key: string | number, points?: number) => l.consume(key, points)),
    penalty: call((l, key: string | number, points?: number) => l.penalty(key, points)),
    reward: call((l, key: string | number, points?: number) => l.reward(key, points)),
    get: call((l, key: string | number) => l.get(key)),
    delete: call((l, key: string | number) => l.delete(key)),
    block: call((l, key: string | number, seconds: number) => l.block(key, seconds)),
  });
}
