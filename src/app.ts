import express, { type Express, type RequestHandler } from 'express';
import helmet from 'helmet';
import { authLoader, requireRole } from './auth/middleware.js';
import { createPasswordHasher } from './auth/passwords.js';
import { authHandlers } from './auth/routes.js';
import { createTokenService } from './auth/tokens.js';
import type { Config } from './config.js';
import type { Db } from './db/database.js';
import { createWriter } from './db/write.js';
import { healthHandlers, type DependencyState, type Lifecycle } from './health/routes.js';
import { jsonBody } from './http/body.js';
import { errorHandler, notFound } from './http/error-handler.js';
import { requestContext } from './http/request-context.js';
import './http/types.js';
import type { Logger } from './logging/logger.js';
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
  readonly redisState?: () => DependencyState;
  /** Called with the operationId just before a handler runs (tests use it to prove a refused request ran nothing). */
  readonly observe?: (operationId: string) => void;
}

const API_BASE = '/api/v1';

/** buildApp assembles the Express app; it never listens. */
export function buildApp(deps: AppDeps): Express {
  const { config, db, logger } = deps;
  const spec = deps.spec ?? loadSpec();
  const write = createWriter(db);
  const users = createUserRepository(db, write);
  const tasks = createTaskRepository(db, write);
  const tokens = createTokenService(config.jwt);
  const passwords = createPasswordHasher(config.bcryptRounds);

  const handlers = {
    ...authHandlers({ users, tokens, passwords, basePath: API_BASE }),
    ...userHandlers({ users }),
    ...taskHandlers({ tasks, basePath: API_BASE }),
    ...healthHandlers({ db, version: config.version, lifecycle: deps.lifecycle, redisState: deps.redisState ?? (() => 'disabled') }),
  };

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', trustProxySetting(config.trustProxy));

  // The order every request goes through, top to bottom.
  app.use(requestContext(logger));
  app.use(securityHeaders());
  app.use(authLoader(tokens, users));
  app.use(pagesRouter(spec.document));
  app.use(
    operationsRouter(spec, handlers, {
      before: (op) => (op.roles ? [requireRole(op)] : []),
      body: jsonBody(config.bodyLimitBytes),
      after: (op) => (deps.observe ? [observeOperation(op, deps.observe)] : []),
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
