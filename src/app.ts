import cluster from 'node:cluster';
import express, { type Express, type RequestHandler } from 'express';
import helmet from 'helmet';
import { authLoader, requireRole } from './auth/middleware.js';
import { createPasswordHasher, type PasswordHasher } from './auth/passwords.js';
import { authHandlers } from './auth/routes.js';
import { createTokenService } from './auth/tokens.js';
import type { Config } from './config.js';
import type { Db } from './db/database.js';
import { createWriter } from './db/write.js';
import { healthHandlers, type DependencyState, type Lifecycle } from './health/routes.js';
import { jsonBody } from './http/body.js';
import { errorHandler, notFound } from './http/error-handler.js';
import { loggerRequestLog, requestContext, type RequestLogger } from './http/request-context.js';
import './http/types.js';
import { memoryStore, redisStore } from './cache/stores.js';
import { generationReader, responseCache } from './cache/response-cache.js';
import type { Logger } from './logging/logger.js';
import { throttledWarn } from './logging/throttle.js';
import { limiterFactory, limiterLayers, type ProcessModel } from './rate-limit/limiters.js';
import { createLoginGuard } from './rate-limit/login-guard.js';
import { globalRateLimit } from './rate-limit/middleware.js';
import type { RedisHandle } from './redis/client.js';
import { metricsCollector } from './metrics/cluster.js';
import { createMetrics } from './metrics/metrics.js';
import { metricsHandlers } from './metrics/routes.js';
import { operationsRouter } from './openapi/router.js';
import { pagesRouter } from './pages/routes.js';
import { loadSpec, type Operation, type Spec } from './openapi/spec.js';
import { createTaskRepository } from './tasks/repository.js';
import { taskHandlers } from './tasks/routes.js';
import { createUserRepository } from './users/repository.js';
import { userHandlers } from './users/routes.js';

/** What buildApp needs; built at start and passed in, so that a test can build an app on a fresh database. */
export interface AppDeps {
  readonly config: Config;
  readonly db: Db;
  readonly logger: Logger;
  readonly lifecycle: Lifecycle;
  readonly spec?: Spec;
  /** Shared cache and rate-limit counts; without it both are kept on this host. */
  readonly redis?: RedisHandle | null;
  /** Writes the one line per request (default: through logger, at info). */
  readonly logRequest?: RequestLogger;
  /** The bcrypt queue (default: one of this process's, from config); tests pass one that counts its jobs. */
  readonly passwords?: PasswordHasher;
  /** Called with the operationId once a request passed its guards and validation (tests use it to prove a refused one ran nothing). */
  readonly observe?: (operationId: string) => void;
}

const API_BASE = '/api/v1';

/** buildApp assembles the Express app; it never listens. */
export function buildApp(deps: AppDeps): Express {
  const { config, db, logger } = deps;
  const spec = deps.spec ?? loadSpec(undefined, config.cache.ttlSeconds || undefined);
  const redis = deps.redis ?? null;
  // This process's instruments; /metrics gathers them (with every worker's, in cluster mode).
  const metrics = createMetrics();
  metrics.watchRedis(() => redis?.state() === 'up');
  const write = createWriter(db, () => metrics.busyRetries.inc());
  const users = createUserRepository(db, write);
  const tasks = createTaskRepository(db, write);
  const tokens = createTokenService(config.jwt);
  const passwords = deps.passwords ?? createPasswordHasher({ rounds: config.bcryptRounds, maxWaitMs: config.bcryptMaxWaitMs });
  const processModel: ProcessModel = config.pm2Instance !== null ? { kind: 'pm2', db } : { kind: cluster.isWorker ? 'cluster' : 'alone' };
  const limiters = limiterFactory(redis?.client ?? null, processModel);
  const loginGuard = createLoginGuard(limiterLayers(redis?.client ?? null, processModel), config.rateLimit, logger, () =>
    metrics.rateLimited.inc({ limiter: 'login' }),
  );
  const warn = throttledWarn(logger);
  const cacheStore = !config.cache.enabled
    ? null
    : redis
      ? redisStore(redis.client, (error) => warn('cache', 'cache unavailable; reading from SQLite', { error: (error as Error)?.message }))
      : memoryStore();
  const generation = generationReader(db);
  const redisState = (): DependencyState => redis?.state() ?? 'disabled';

  const handlers = {
    ...authHandlers({ users, tokens, passwords, loginGuard, basePath: API_BASE }),
    ...userHandlers({ users }),
    ...taskHandlers({ tasks, basePath: API_BASE }),
    ...metricsHandlers({ token: config.metricsToken, collect: metricsCollector(metrics) }),
    ...healthHandlers({ db, version: config.version, lifecycle: deps.lifecycle, redisState }),
  };

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', trustProxySetting(config.trustProxy));

  // The order every request goes through, top to bottom.
  app.use(requestContext(deps.logRequest ?? loggerRequestLog(logger), metrics));
  app.use(securityHeaders());
  if (config.rateLimit.max > 0) {
    const limiter = limiters({ keyPrefix: 'global', points: config.rateLimit.max, durationSeconds: config.rateLimit.windowSeconds });
    const exempt = new Set(spec.operations.filter((op) => op.rateLimit === 'none').map((op) => op.path));
    const onReject = () => metrics.rateLimited.inc({ limiter: 'global' });
    app.use(globalRateLimit(limiter, { limit: config.rateLimit.max, windowSeconds: config.rateLimit.windowSeconds, exempt, onReject }, logger));
  }
  app.use(authLoader(tokens, users));
  app.use(pagesRouter(spec.document));
  app.use(
    operationsRouter(spec, handlers, {
      before: (op) => (op.roles ? [requireRole(op)] : []),
      body: jsonBody(config.bodyLimitBytes),
      after: (op) => [
        // Observed once the request passed every guard and validation, even when the cache answers it.
        ...(deps.observe ? [observeOperation(op, deps.observe)] : []),
        ...responseCache(op, { store: cacheStore, generation, onResult: (result) => metrics.cacheResults.inc({ result }) }),
      ],
    }),
  );
  app.use(notFound);
  app.use(errorHandler(logger));
  return app;
}

function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        fontSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
  });
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
