import type { Db } from '../db/database.js';

/** A StoredResponse is the first answer to a keyed write, as it is replayed. */
export interface StoredResponse {
  readonly fingerprint: string;
  readonly status: number;
  readonly contentType: string | null;
  readonly location: string | null;
  readonly body: Buffer;
}

/** The keys of one caller: the account, or every anonymous caller together. */
export type KeyScope = string;

export interface IdempotencyStore {
  /** find returns the unexpired response stored under the key, if any. */
  find(scope: KeyScope, key: string): StoredResponse | undefined;
  /**
   * save stores a response under the key inside the caller's open transaction, and drops the
   * expired keys on the way; it throws SQLITE_CONSTRAINT_PRIMARYKEY when another request
   * already stored one under the same key.
   */
  save(scope: KeyScope, key: string, response: StoredResponse): void;
}

/** createIdempotencyStore prepares the statements of the idempotency_keys table; keys live ttlSeconds. */
export function createIdempotencyStore(db: Db, ttlSeconds: number, now: () => number = Date.now): IdempotencyStore {
  const select = db.prepare<[string, string, number], { fingerprint: string; status: number; content_type: string | null; location: string | null; body: Buffer }>(
    'SELECT fingerprint, status, content_type, location, body FROM idempotency_keys WHERE scope = ? AND key = ? AND expires_at > ?',
  );
  const prune = db.prepare<[number]>('DELETE FROM idempotency_keys WHERE expires_at <= ?');
  const insert = db.prepare<[string, string, string, number, string | null, string | null, Buffer, number]>(
    'INSERT INTO idempotency_keys (scope, key, fingerprint, status, content_type, location, body, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  return {
    find(scope, key) {
      const row = select.get(scope, key, now());
      return row && { fingerprint: row.fingerprint, status: row.status, contentType: row.content_type, location: row.location, body: row.body };
    },
    save(scope, key, response) {
      const at = now();
      prune.run(at);
      insert.run(scope, key, response.fingerprint, response.status, response.contentType, response.location, response.body, at + ttlSeconds * 1000);
    },
  };
}
