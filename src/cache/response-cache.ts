import { hash } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Db } from '../db/database.js';
import { JSON_TYPE, writeBody } from '../http/json-response.js';
import type { Operation } from '../openapi/spec.js';
import type { CacheEntry, CacheStore } from './stores.js';

/** How many URLs of one operation keep their canonical input. */
const INPUT_KEYS_KEPT = 1000;

export interface ResponseCacheOptions {
  readonly store: CacheStore | null;
  /** The current generation of a resource for a request; every committed write to it has bumped it. */
  readonly generation: (req: Request, resource: string) => number;
  readonly onResult?: (result: 'hit' | 'miss') => void;
}

/** generationReader reads a resource's generation from SQLite, where writes bump it in their own transaction. */
export function generationReader(db: Db): (resource: string) => number {
  const read = db.prepare<[string], { generation: number }>('SELECT generation FROM cache_generations WHERE resource = ?');
  return (resource) => read.get(resource)?.generation ?? 0;
}

/**
 * responseCache serves a cached operation (x-cache-ttl in openapi.yaml) from the store. The key
 * holds the resource's generation, which every write bumps in the same SQLite transaction as the
 * data: a write acknowledged by any worker is seen by the next read on every worker, with O(1)
 * invalidation and nothing to clean up (old generations expire). X-Cache says HIT or MISS; the
 * ETag answers If-None-Match with 304, cached or not.
 */
export function responseCache(operation: Operation, options: ResponseCacheOptions): RequestHandler[] {
  const cache = operation.cache;
  if (!cache) return [];
  const { store, generation, onResult = () => {} } = options;
  // The validated input is a function of the URL alone: its canonical form is made once per URL.
  const inputKeys = new Map<string, string>();
  const inputKeyOf = (req: Request) => {
    let key = inputKeys.get(req.url);
    if (key === undefined) {
      key = `${canonical(req.input.path)}:${canonical(req.input.query)}`;
      if (inputKeys.size >= INPUT_KEYS_KEPT) inputKeys.delete(inputKeys.keys().next().value as string);
      inputKeys.set(req.url, key);
    }
    return key;
  };
  return [
    async function responseCacheMiddleware(req: Request, res: Response, next: NextFunction): Promise<void> {
      // With the cache off there is no key to build and no generation to read; the ETag stays.
      const key = store
        ? `backend-api:v1:${cache.resource}:${generation(req, cache.resource)}:${operation.id}:${inputKeyOf(req)}`
        : '';
      res.setHeader('Cache-Control', 'private, no-cache');
      const hit = store ? await store.get(key) : undefined;
      if (hit !== undefined) {
        res.setHeader('X-Cache', 'HIT');
        onResult('hit');
        send(req, res, hit);
        return;
      }
      onResult('miss');
      // The handler's res.json renders the body; the cache keeps it and answers with its ETag.
      res.interceptJson = function cacheMiss(res: Response, body: Buffer) {
        if (res.statusCode !== 200) return writeBody(res, body, JSON_TYPE);
        // Only a response the cache could have answered says MISS; an error says nothing of the cache.
        res.setHeader('X-Cache', 'MISS');
        const entry = { etag: `"${hash('sha1', body, 'base64url')}"`, body };
        if (store) void store.set(key, entry, cache.ttlSeconds);
        send(req, res, entry);
      };
      next();
    },
  ];
}

function send(req: Request, res: Response, { etag, body }: CacheEntry): void {
  res.setHeader('ETag', etag);
  const match = req.headers['if-none-match'];
  if (match !== undefined && match.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag || tag.trim() === '*')) {
    res.statusCode = 304;
    res.end();
    return;
  }
  writeBody(res, body, JSON_TYPE);
}

/** canonical renders validated input with sorted keys, so equal requests share one key. */
function canonical(input: Record<string, unknown>): string {
  return Object.keys(input)
    .sort()
    .map((key) => `${key}=${encodeURIComponent(String(input[key]))}`)
    .join('&');
}
