import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { isPrimaryKeyViolation, type Db } from '../db/database.js';
import { storageWatch } from '../db/storage.js';
import type { TransactionHold } from '../db/write.js';
import { problemBody, problems, type AppError } from '../http/errors.js';
import { jsonBytes, PROBLEM_TYPE, writeBody } from '../http/json-response.js';
import type { Logger } from '../logging/logger.js';
import type { Operation } from '../openapi/spec.js';
import type { IdempotencyStore, StoredResponse } from './store.js';

export const IDEMPOTENCY_HEADER = 'Idempotency-Key';
/** How long a key and its response are kept (documented in openapi.yaml). */
export const IDEMPOTENCY_TTL_SECONDS = 86_400;

// An sf-string ("…", printable ASCII without " and \) or the same characters bare, as many
// clients send them; 1 to 255 characters inside.
const KEY_SYNTAX = /^(?:"([\x20\x21\x23-\x5b\x5d-\x7e]{1,255})"|([\x21\x23-\x5b\x5d-\x7e]{1,255}))$/;

interface KeyedRequest {
  /**
   * idle: no write yet; held: this request's write began its transaction; closed: committed or
   * rolled back with the response; abandoned: rolled back because no response came in time.
   */
  state: 'idle' | 'held' | 'closed' | 'abandoned';
}

/** KeyedWrites makes writes sent with an Idempotency-Key happen once, however often they are sent. */
export interface KeyedWrites {
  /** hold is the writer's TransactionHold: a keyed request keeps its write open until it answers. */
  readonly hold: TransactionHold;
  /** middleware returns the stage for an operation that declares the header (none for the others). */
  middleware(operation: Operation): RequestHandler[];
}

/**
 * createKeyedWrites implements draft-ietf-httpapi-idempotency-key-header for the operations that
 * declare the header. The first 2xx answer to a key is stored in the same transaction as the
 * write it reports, so the two commit together or not at all; a retry with the same key and the
 * same request gets that answer again (Idempotent-Replayed: true), another request reusing the
 * key gets 422. Two copies racing on two workers both run, and the one that commits second
 * finds the key taken at commit, rolls its write back and answers with the first one's response;
 * a copy that fails because the first one's write came first (the account exists now) answers
 * with the first one's response too.
 *
 * The write's transaction stays open only from write() to the response, which the handlers send
 * in the same tick; a transaction still open when that tick ends is rolled back at once, so no
 * other request of this process ever runs inside it.
 */
export function createKeyedWrites(db: Db, store: IdempotencyStore, logger: Logger): KeyedWrites {
  const current = new AsyncLocalStorage<KeyedRequest>();
  const storage = storageWatch(db);

  function hold(): boolean {
    const request = current.getStore();
    if (!request || request.state !== 'idle') return false;
    request.state = 'held';
    queueMicrotask(function releaseUnanswered() {
      // Still open after the tick of the write (a failed write has rolled itself back already).
      if (request.state !== 'held' || !db.inTransaction) return;
      request.state = 'abandoned';
      db.exec('ROLLBACK');
      logger.error('a keyed write was not answered in the tick it was made; rolled back');
    });
    return true;
  }

  /** answeredMeanwhile is the stored answer to a key another copy committed after this one looked. */
  function answeredMeanwhile(scope: string, key: string, fingerprint: string): EndOutcome {
    let first: StoredResponse | undefined;
    try {
      first = store.find(scope, key);
    } catch (error) {
      logger.warn('could not look an idempotency key up again', { error });
    }
    if (!first) return undefined;
    return first.fingerprint === fingerprint ? { replay: first } : { problem: problems.idempotencyKeyReused() };
  }

  function middleware(operation: Operation): RequestHandler[] {
    const declared = operation.parameters.some((p) => p.in === 'header' && String(p.name).toLowerCase() === IDEMPOTENCY_HEADER.toLowerCase());
    if (!declared) return [];
    return [
      function idempotencyKeyMiddleware(req: Request, res: Response, next: NextFunction): void {
        const header = req.get(IDEMPOTENCY_HEADER);
        if (header === undefined) return next();
        const key = parseKey(header);
        const scope = req.auth ? `user:${req.auth.userId}` : 'anonymous';
        const fingerprint = createHash('sha256')
          .update(`${req.method} ${req.path}\n${JSON.stringify(req.input.body ?? null)}`)
          .digest('base64url');
        const stored = store.find(scope, key);
        if (stored) return replay(res, stored, fingerprint);
        const request: KeyedRequest = { state: 'idle' };
        interceptEnd(req, res, (status, body) => {
          const success = status >= 200 && status < 300;
          if (request.state === 'abandoned') return success ? { problem: problems.internal() } : undefined;
          const held = request.state === 'held';
          request.state = 'closed';
          if (!success) {
            if (held && db.inTransaction) db.exec('ROLLBACK');
            // A copy that committed while this one ran makes it fail (409 on the account it
            // created, 404 on the row it deleted): the key has an answer now, and it is that one.
            return answeredMeanwhile(scope, key, fingerprint);
          }
          if (!held || !db.inTransaction) return undefined;
          try {
            store.save(scope, key, { fingerprint, status, contentType: responseHeader(res, 'Content-Type'), location: responseHeader(res, 'Location'), body });
            db.exec('COMMIT');
            return undefined;
          } catch (error) {
            if (db.inTransaction) db.exec('ROLLBACK');
            // Another copy of this request committed first: answer as it did.
            const first = isPrimaryKeyViolation(error) ? answeredMeanwhile(scope, key, fingerprint) : undefined;
            if (first) return first;
            if (storage.isFull(error)) return { problem: problems.storageFull(error) };
            logger.error('a keyed write failed to commit', { requestId: req.id, error });
            return { problem: problems.internal(error) };
          }
        });
        current.run(request, next);
      },
    ];
  }

  return { hold, middleware };
}

/** parseKey reads the header's value, quoted or bare, or refuses it with 400. */
function parseKey(header: string): string {
  const match = KEY_SYNTAX.exec(header);
  if (!match) {
    throw problems.validation([{ in: 'header', pointer: `/${IDEMPOTENCY_HEADER}`, message: 'must be 1 to 255 printable ASCII characters, optionally in double quotes' }]);
  }
  return (match[1] ?? match[2]) as string;
}

function responseHeader(res: Response, name: string): string | null {
  const value = res.getHeader(name);
  return value === undefined ? null : String(value);
}

/** replay answers with the stored response, or 422 when the key came with another request. */
function replay(res: Response, stored: StoredResponse, fingerprint: string): void {
  if (stored.fingerprint !== fingerprint) throw problems.idempotencyKeyReused();
  writeStored(res, stored);
  res.end(stored.body);
}

function writeStored(res: Response, stored: StoredResponse): void {
  res.statusCode = stored.status;
  res.setHeader('Idempotent-Replayed', 'true');
  if (stored.contentType) res.setHeader('Content-Type', stored.contentType);
  if (stored.location) res.setHeader('Location', stored.location);
}

type EndOutcome = { replay: StoredResponse } | { problem: AppError } | undefined;

/**
 * interceptEnd calls settle with the response's status and body when the handler ends it, before
 * anything is sent; settle may replace the response with a stored one or a problem document.
 */
function interceptEnd(req: Request, res: Response, settle: (status: number, body: Buffer) => EndOutcome): void {
  const end = res.end as (this: Response, ...args: unknown[]) => Response;
  res.end = function endKeyed(this: Response, ...args: unknown[]) {
    res.end = end as Response['end'];
    const chunk = typeof args[0] === 'function' ? undefined : args[0];
    const body = chunk === undefined || chunk === null ? Buffer.alloc(0) : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string, typeof args[1] === 'string' ? (args[1] as BufferEncoding) : 'utf8');
    const outcome = settle(res.statusCode, body);
    if (outcome === undefined) return end.apply(this, args);
    for (const name of ['Location', 'ETag', 'Content-Length', 'Content-Type']) res.removeHeader(name);
    if ('replay' in outcome) {
      writeStored(res, outcome.replay);
      return end.call(this, outcome.replay.body);
    }
    const problem = outcome.problem;
    res.statusCode = problem.status;
    for (const [name, value] of Object.entries(problem.headers)) res.setHeader(name, value);
    // res.end is the original again: the problem goes out as every other one does.
    writeBody(res, jsonBytes(problemBody(problem, req.id)), PROBLEM_TYPE);
    return res;
  } as Response['end'];
}
