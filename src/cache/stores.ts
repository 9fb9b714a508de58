import type { Redis } from 'ioredis';

/** A CacheStore keeps serialized responses for a while; any failure reads as a miss. */
export interface CacheStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
}

/** memoryStore keeps entries in this process, least recently used first out, each with its own expiry. */
export function memoryStore(maxEntries = 1000): CacheStore {
  const entries = new Map<string, { value: string; expires: number }>();
  return {
    async get(key) {
      const entry = entries.get(key);
      if (!entry) return undefined;
      entries.delete(key);
      if (entry.expires <= Date.now()) return undefined;
      entries.set(key, entry);
      return entry.value;
    },
    async set(key, value, ttlSeconds) {
      entries.delete(key);
      entries.set(key, { value, expires: Date.now() + ttlSeconds * 1000 });
      if (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
    },
  };
}

/** redisStore shares entries between every worker and host; errors (Redis down, timeout) are misses. */
export function redisStore(client: Redis, onError: (error: unknown) => void): CacheStore {
  return {
    async get(key) {
      try {
        return (await client.get(key)) ?? undefined;
      } catch (error) {
        onError(error);
        return undefined;
      }
    },
    async set(key, value, ttlSeconds) {
      try {
        await client.set(key, value, 'EX', ttlSeconds);
      } catch (error) {
        onError(error);
      }
    },
  };
}
