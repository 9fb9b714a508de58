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
    const local = hostLimiter(spec, host);
    return redis ? redisLimiter(spec, redis, local) : local;
  };
}

/** LimiterLayers makes, for one limit, every store it is counted in (Redis when there is one, then this host's). */
export type LimiterLayers = (spec: LimiterSpec) => RateLimiterAbstract[];

/**
 * limiterLayers counts a limit in this host's store always, and in Redis too when there is one,
 * for limits that must hold exactly: an insurance limiter starts from zero each time Redis fails
 * or merely times out, so under a flapping Redis every switch would hand out fresh points. Here
 * the host's count is always complete, and Redis adds the count shared with other hosts.
 */
export function limiterLayers(redis: Redis | null, host: HostCounts): LimiterLayers {
  return (spec) => {
    const local = hostLimiter(spec, host);
    return redis ? [redisLimiter(spec, redis), local] : [local];
  };
}

function options(spec: LimiterSpec) {
  return {
    keyPrefix: spec.keyPrefix,
    points: spec.points,
    duration: spec.durationSeconds,
    ...(spec.blockSeconds ? { blockDuration: spec.blockSeconds } : {}),
  };
}

function hostLimiter(spec: LimiterSpec, host: HostCounts): RateLimiterAbstract {
  return host.kind === 'primary'
    ? primaryOrOwn(new RateLimiterCluster({ ...options(spec), timeoutMs: 1000 }), new RateLimiterMemory(options(spec)), host.primaryGone)
    : host.kind === 'sqlite'
      ? new RateLimiterSQLite({ ...options(spec), storeClient: host.db, storeType: 'better-sqlite3', tableName: 'rate_limits' })
      : new RateLimiterMemory(options(spec));
}

function redisLimiter(spec: LimiterSpec, redis: Redis, insuranceLimiter?: RateLimiterAbstract): RateLimiterAbstract {
  return new RateLimiterRedis({ ...options(spec), storeClient: redis, rejectIfRedisNotReady: true, ...(insuranceLimiter ? { insuranceLimiter } : {}) });
}

/**
 * primaryOrOwn counts in the primary while there is one. A worker whose primary died accepts
 * nothing new and drains what it has in flight: those requests are counted in the worker itself
 * (a call sent to the primary as it died is asked again here) instead of failing for want of a
 * store, which the login guard would have to answer with 503 or let through uncounted.
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
