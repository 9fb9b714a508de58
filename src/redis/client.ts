import { Redis, ReplyError } from 'ioredis';
import type { DependencyState } from '../health/states.js';
import type { Logger } from '../logging/logger.js';
import { throttledWarn } from '../logging/throttle.js';
import { createBreaker, type Breaker } from './breaker.js';

/** Consecutive timeouts or failures after which this process stops waiting on Redis. */
const FAILURES_TO_OPEN = 3;
/** How often a PING checks Redis, whether requests use it or not. */
const PROBE_EVERY_MS = 500;

/** RedisHandle is the process's Redis connection and what the app needs to know about it. */
export interface RedisHandle {
  /**
   * The client the cache and the rate limiters use. While Redis does not answer it reports
   * itself not ready, so neither sends it anything: the limiters count in their insurance
   * limiter, the cache reads SQLite.
   */
  readonly client: Redis;
  state(): DependencyState;
  /** ready resolves once connected, or after timeoutMs either way (the server starts without Redis). */
  ready(timeoutMs: number): Promise<boolean>;
  quit(): Promise<void>;
}

/**
 * connectRedis opens a client that never makes a request wait for Redis: no offline queue (a
 * command while disconnected fails at once), a short command timeout, and reconnection with
 * capped backoff. A Redis that hangs (SIGSTOP, a full network buffer) keeps the connection up
 * and answers nothing: a circuit breaker, shared by the cache and the limiters of this process,
 * opens after a few timeouts so that requests stop paying them, and a PING every 500 ms closes
 * it when Redis answers again. Errors are logged at most every 10 s.
 */
export function connectRedis(url: string, commandTimeoutMs: number, logger: Logger): RedisHandle {
  const warn = throttledWarn(logger);
  const client = new Redis(url, {
    enableOfflineQueue: false,
    commandTimeout: commandTimeoutMs,
    connectTimeout: 2000,
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2000),
    lazyConnect: false,
  });
  const breaker = createBreaker({
    failuresToOpen: FAILURES_TO_OPEN,
    probeEveryMs: PROBE_EVERY_MS,
    probe: () => client.ping(),
    // A reply error (a wrong type, a script error) is Redis answering.
    answered: (error) => error instanceof ReplyError,
    onChange: (open, failures) =>
      open
        ? logger.warn('redis not answering; serving without it until it does', { failures, probeEveryMs: PROBE_EVERY_MS })
        : logger.info('redis answering again'),
  });
  client.on('error', (error: Error) => warn('redis', 'redis error; serving without it until it is back', { error: error.message }));
  client.on('ready', () => {
    logger.info('redis ready');
    breaker.probeNow();
  });
  return {
    client: guardedClient(client, breaker),
    state: () => (client.status === 'ready' && !breaker.isOpen ? 'up' : 'down'),
    ready: (timeoutMs) =>
      client.status === 'ready'
        ? Promise.resolve(true)
        : new Promise((resolve) => {
            const timer = setTimeout(() => resolve(false), timeoutMs);
            client.once('ready', () => (clearTimeout(timer), resolve(true)));
          }),
    async quit() {
      breaker.stop();
      try {
        await client.quit();
      } catch {
        client.disconnect();
      }
    },
  };
}

/**
 * guardedClient is the client as the breaker lets it be seen: `status` is not 'ready' while the
 * breaker is open (RateLimiterRedis, built with rejectIfRedisNotReady, and the cache store check
 * it before each call), and every call that returns a promise is tracked, so its outcome counts
 * and it fails at once if the breaker opens while it waits.
 */
function guardedClient(client: Redis, breaker: Breaker): Redis {
  return new Proxy(client, {
    get(target, property) {
      if (property === 'status') return breaker.isOpen ? 'circuit-open' : target.status;
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function' || property === 'constructor') return value;
      return function guarded(...args: unknown[]) {
        const result: unknown = value.apply(target, args);
        return result instanceof Promise ? breaker.track(result) : result;
      };
    },
  });
}
