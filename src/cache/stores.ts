import type { Redis } from 'ioredis';

/** A cached response: its ETag and its body, already encoded. */
export interface CacheEntry {
  readonly etag: string;
  readonly body: Buffer;
}

/** A CacheStore keeps responses for a while; any failure reads as a miss. */
export interface CacheStore {
  get(key: string): Promise<CacheEntry | undefined>;
  set(key: string, entry: CacheEntry, ttlSeconds: number): Promise<void>;
}

/** memoryStore keeps entries in this process, least recently used first out, each with its own expiry. */
export function memoryStore(maxEntries = 1000): CacheStore {
  const entries = new Map<string, { entry: CacheEntry; expires: number }>();
  return {
    async get(key) {
      const found = entries.get(key);
      if (!found) return undefined;
      entries.delete(key);
      if (found.expires <= Date.now()) return undefined;
      entries.set(key, found);
      return found.entry;
    },
    async set(key, entry, ttlSeconds) {
      entries.delete(key);
      entries.set(key, { entry, expires: Date.now() + ttlSeconds * 1000 });
      if (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
    },
  };
}

const SEPARATOR = 0x0a;

/**
 * redisStore shares entries between every worker and host as "etag\nbody"; errors (Redis down,
 * timeout) are misses, and while the client is not ready (disconnected, or its breaker open
 * because Redis hangs) nothing is asked of it at all.
 */
export function redisStore(client: Redis, onError: (error: unknown) => void): CacheStore {
  return {
    async get(key) {
      if (client.status !== 'ready') return undefined;
      try {
        const value = await client.getBuffer(key);
        if (value === null) return undefined;
        const split = value.indexOf(SEPARATOR);
        return { etag: value.subarray(0, split).toString(), body: value.subarray(split + 1) };
      } catch (error) {
        onError(error);
        return undefined;
      }
    },
    async set(key, entry, ttlSeconds) {
      if (client.status !== 'ready') return;
      try {
        await client.set(key, Buffer.concat([Buffer.from(entry.etag), Buffer.of(SEPARATOR), entry.body]), 'EX', ttlSeconds);
      } catch (error) {
        onError(error);
      }
    },
  };
}
