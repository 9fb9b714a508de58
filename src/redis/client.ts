import { Redis } from 'ioredis';
import type { DependencyState } from '../health/routes.js';
import type { Logger } from '../logging/logger.js';
import { throttledWarn } from '../logging/throttle.js';

/** RedisHandle is the process's Redis connection and what the app needs to know about it. */
export interface RedisHandle {
  readonly client: Redis;
  state(): DependencyState;
  /** ready resolves once connected, or after timeoutMs either way (the server starts without Redis). */
  ready(timeoutMs: number): Promise<boolean>;
  quit(): Promise<void>;
}

/**
 * connectRedis opens a client that never makes a request wait for Redis: no offline queue (a
 * command while disconnected fails at once), a short command timeout (a hung Redis costs at most
 * that), and reconnection with capped backoff. Errors are logged at most every 10 s.
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
  client.on('error', (error: Error) => warn('redis', 'redis error; serving without it until it is back', { error: error.message }));
  client.on('ready', () => logger.info('redis ready'));
  return {
    client,
    state: () => (client.status === 'ready' ? 'up' : 'down'),
    ready: (timeoutMs) =>
      client.status === 'ready'
        ? Promise.resolve(true)
        : new Promise((resolve) => {
            const timer = setTimeout(() => resolve(false), timeoutMs);
            client.once('ready', () => (clearTimeout(timer), resolve(true)));
          }),
    async quit() {
      try {
        await client.quit();
      } catch {
        client.disconnect();
      }
    },
  };
}
