import express, { type Request, type RequestHandler } from 'express';
import { IncomingMessage, ServerResponse } from 'node:http';
import { authLoader, requireRole } from './auth/middleware.js';
import { createPasswordHasher, type PasswordHasher } from './auth/passwords.js';
import { authHandlers } from './auth/handlers.js';
import { createTokenService } from './auth/tokens.js';
import type { Config } from './config.js';
import type { Db } from './db/database.js';
import { changeClock, factCache } from './db/change-clock.js';
import { createWriter } from './db/write.js';
import { healthHandlers } from './health/handlers.js';
import type { DependencyState, Lifecycle } from './health/states.js';
import { jsonBody } from './http/body.js';
import { errorHandler, notFound } from './http/error-handler.js';
import { sendJson } from './http/json-response.js';
import { runChain } from './http/pipeline.js';
import { securityHeaders } from './http/security-headers.js';
import { createKeyedWrites, IDEMPOTENCY_TTL_SECONDS } from './idempotency/keyed-writes.js';
import { createIdempotencyStore } from './idempotency/store.js';
import { loggerRequestLog, requestContext } from './http/request-context.js';
import './http/types.js';
import { memoryStore, redisStore } from './cache/stores.js';
import { generationReader, responseCache } from './cache/response-cache.js';
import type { Logger } from './logging/logger.js';
import { throttledWarn } from './logging/throttle.js';
import { limiterFactory, limiterLayers } from './rate-limit/limiters.js';
import { createLoginGuard } from './rate-limit/login-guard.js';
import { globalRateLimit } from './rate-limit/middleware.js';
import type { RedisHandle } from './redis/client.js';
import { metricsHandlers } from './metrics/handlers.js';
import { operationsRouter } from './openapi/router.js';
import { pagesRouter } from './pages/router.js';
import type { ProcessModel } from './process/model.js';
import { statusHandlers } from './status/handlers.js';
import { statusSource } from './status/source.js';
import { loadSpec, type Operation, type Spec } from './openapi/spec.js';
import { createTaskRepository } from './tasks/repository.js';
import { taskHandlers } from './tasks/handlers.js';
import { createUserRepository } from './users/repository.js';
import { userHandlers } from './users/handlers.js';

/** What buildApp needs; built at start and passed in, so that a test can build an app on a fresh database. */
export interface AppDeps {
  readonly config: Config;
  readonly db: Db;
  readonly logger: Logger;
  readonly lifecycle: Lifecycle;
  readonly spec?: Spec;
  /** Shared cache and rate-limit counts; without it both are kept on this host. */
  readonly redis?: RedisHandle | null;
  /** What the process model gives: where rate-limit counts live, how /metrics gathers, where request lines go. */
  readonly model: ProcessModel;
  /** The bcrypt queue (default: one of this process's, from config); tests pass one that counts its jobs. */
  readonly passwords?: PasswordHasher;
  /** Called with the operationId once a request passed its guards and validation (tests use it to prove a refused one ran nothing). */
  readonly observe?: (operationId: string) => void;
}

/** The app: one request listener, and node:http's classes for the server that runs it. */
export interface App {
  /** handle answers every request, API or page, through the same stages. */
  readonly handle: (req: IncomingMessage, res: ServerResponse) => void;
  /** Requests and responses are born with Express's prototypes (req.ip, res.json, …): nothing swaps them per request. */
  readonly IncomingMessage: typeof IncomingMessage;
  readonly ServerResponse: typeof ServerResponse;
}

const API_BASE = '/api/v1';
/** How many times the API's per-client budget the pages (dashboard, Swagger UI, the spec) get. */
const PAGES_BUDGET_FACTOR = 10;
/** How many accounts' role and token version are kept between changes of the database. */
const AUTH_INFO_KEPT = 10_000;

/** buildApp assembles the app; it never listens. */
export function buildApp(deps: AppDeps): App {
  const { config, db, logger, model } = deps;
  const spec = deps.spec ?? loadSpec(undefined, config.cache.ttlSeconds || undefined);
  const redis = deps.redis ?? null;
  const metrics = model.metrics;
  metrics.watchRedis(() => redis?.state() === 'up');
  const keyedWrites = createKeyedWrites(db, createIdempotencyStore(db, IDEMPOTENCY_TTL_SECONDS), logger);
  // Facts read on every request (the caller's token version, a resource's generation) are kept
  // until the database changes: one PRAGMA per request instead of a read per fact.
  const clock = changeClock(db);
  const tickOf = (req: Request) => (req.dbTick !== undefined ? req.dbTick : (req.dbTick = clock.tick()));
  const write = createWriter(db, () => metrics.busyRetries.inc(), keyedWrites.hold, clock.wrote);
  const users = createUserRepository(db, write);
  const tasks = createTaskRepository(db, write);
  const tokens = createTokenService(config.jwt);
  const passwords = deps.passwords ?? createPasswordHasher({ rounds: config.bcryptRounds, maxWaitMs: config.bcryptMaxWaitMs });
  const limiters = limiterFactory(redis?.client ?? null, model.hostCounts);
  const loginGuard = createLoginGuard(limiterLayers(redis?.client ?? null, model.hostCounts), config.rateLimit, logger, {
    onReject: () => metrics.rateLimited.inc({ limiter: 'login' }),
    draining: () => deps.lifecycle.state === 'stopping',
  });
  const warn = throttledWarn(logger);
  const cacheStore = !config.cache.enabled
    ? null
    : redis
      ? redisStore(redis.client, (error) => warn('cache', 'cache unavailable; reading from SQLite', { error: (error as Error)?.message }))
      : memoryStore();
  const generationOf = factCache(generationReader(db), 64);
  const generation = (req: Request, resource: string) => generationOf(tickOf(req), resource);
  const authInfoOf = factCache(users.authInfo, AUTH_INFO_KEPT);
  const redisState = (): DependencyState => redis?.state() ?? 'disabled';
  const status = statusSource({ model, redisState, databasePath: config.database.path, lifecycle: deps.lifecycle, logger });

  const handlers = {
    ...authHandlers({ users, tokens, passwords, loginGuard, basePath: API_BASE }),
    ...userHandlers({ users }),
    ...taskHandlers({ tasks, basePath: API_BASE }),
    ...metricsHandlers({ token: config.metricsToken, collect: model.collectMetrics }),
    ...healthHandlers({ db, version: config.version, lifecycle: deps.lifecycle, redisState }),
    ...statusHandlers({ source: status }),
  };

  const pages = pagesRouter(spec.document);
  // Express gives the pages their router and every request its req/res methods; the API's
  // operations are dispatched by their own table, without Express's router in between.
  const framework = express();
  framework.disable('x-powered-by');
  framework.set('etag', false);
  framework.set('trust proxy', trustProxySetting(config.trustProxy));
  framework.response.json = sendJson;
  framework.use(pages.router);

  // The order every request goes through, top to bottom.
  const stages: RequestHandler[] = [requestContext(model.logRequest ?? loggerRequestLog(logger), metrics), securityHeaders(pages.paths)];
  if (config.rateLimit.max > 0) {
    const { max, windowSeconds } = config.rateLimit;
    const bucket = (policy: string, limit: number) => ({ policy, limit, windowSeconds, limiter: limiters({ keyPrefix: policy, points: limit, durationSeconds: windowSeconds }) });
    // The API's budget counts API calls; the dashboard and Swagger UI have their own, larger one,
    // so that opening the pages costs a client none of its API requests.
    const api = bucket('default', max);
    const pagesBucket = bucket('pages', max * PAGES_BUDGET_FACTOR);
    const exempt = new Set(spec.operations.filter((op) => op.rateLimit === 'none').map((op) => op.path));
    const bucketOf = (req: Request) => (exempt.has(req.path) ? null : pages.paths.has(req.path) ? pagesBucket : api);
    stages.push(globalRateLimit({ bucketOf, onReject: (policy) => metrics.rateLimited.inc({ limiter: policy }) }, logger));
  }
  stages.push(
    authLoader(tokens, (req, userId) => authInfoOf(tickOf(req), userId)),
    operationsRouter(spec, handlers, {
      before: (op) => (op.roles ? [requireRole(op)] : []),
      body: jsonBody(config.bodyLimitBytes),
      after: (op) => [
        // A retry with a used Idempotency-Key is answered here, before the handler could run again.
        ...keyedWrites.middleware(op),
        // Observed once the request passed every guard and validation, even when the cache answers it.
        ...(deps.observe ? [observeOperation(op, deps.observe)] : []),
        ...responseCache(op, { store: cacheStore, generation, onResult: (result) => metrics.cacheResults.inc({ result }) }),
      ],
    }),
    // What no operation answered: the pages, else 404.
    framework as unknown as RequestHandler,
    notFound,
  );
  const handleError = errorHandler(logger);

  class ApiRequest extends IncomingMessage {}
  Object.setPrototypeOf(ApiRequest.prototype, framework.request);
  class ApiResponse extends ServerResponse {}
  Object.setPrototypeOf(ApiResponse.prototype, framework.response);
  return {
    IncomingMessage: ApiRequest,
    ServerResponse: ApiResponse as typeof ServerResponse,
    handle(incoming, outgoing) {
      const req = incoming as Request;
      const res = outgoing as express.Response;
      // What Express's own handler would link (req.fresh, res.json and others read them).
      req.res = res;
      runChain(stages, req, res, (error?: unknown) => handleError(error, req, res, () => {}));
    },
  };
}

function observeOperation(op: Operation, observe: (operationId: string) => void): RequestHandler {
  return function observeMiddleware(_req, _res, next) {
    observe(op.id);
    next();
  };
}

/** trustProxySetting maps TRUST_PROXY to Express: "false"/"none" trusts no proxy, anything else is a proxy-addr list. */
function trustProxySetting(value: string): boolean | string[] {
  if (['false', 'none', ''].includes(value.toLowerCase())) return false;
  return value.split(',').map((part) => part.trim()).filter(Boolean);
}
