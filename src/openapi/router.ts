import { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { problems, type FieldProblem } from '../http/errors.js';
import { toFieldProblems } from './ajv.js';
import type { Operation, Spec } from './spec.js';

/** A handler reads req.input (validated) and req.auth, and answers. */
export type OperationHandler = (req: Request, res: Response) => void | Promise<void>;

export interface OperationStages {
  /** Runs before the body is read: auth guards, rate limits. */
  readonly before: (operation: Operation) => RequestHandler[];
  /** Reads the body of operations that have one. */
  readonly body: RequestHandler;
  /** Runs after validation, before the handler: the response cache. */
  readonly after: (operation: Operation) => RequestHandler[];
}

/**
 * operationsRouter binds every operation of the spec to its handler by operationId; it refuses
 * to start when the two disagree, answers 405 with Allow for a known path and an unknown method.
 */
export function operationsRouter(spec: Spec, handlers: Readonly<Record<string, OperationHandler>>, stages: OperationStages): Router {
  const router = Router({ strict: true });
  const missing = spec.operations.filter((op) => !handlers[op.id]).map((op) => op.id);
  const unknown = Object.keys(handlers).filter((id) => !spec.operations.some((op) => op.id === id));
  if (missing.length || unknown.length) {
    throw new Error(`openapi.yaml and the handlers disagree: no handler for [${missing.join(', ')}], not in the spec: [${unknown.join(', ')}]`);
  }

  for (const [routePath, operations] of spec.byRoutePath) {
    for (const operation of operations) {
      router[operation.method](
        routePath,
        markOperation(operation),
        ...stages.before(operation),
        ...(operation.body ? [stages.body] : []),
        validateRequest(operation),
        ...stages.after(operation),
        handlers[operation.id] as OperationHandler,
      );
    }
    const allow = operations.map((op) => op.method.toUpperCase());
    if (allow.includes('GET')) allow.push('HEAD');
    router.all(routePath, (_req: Request, _res: Response, next: NextFunction) => next(problems.methodNotAllowed(allow)));
  }
  return router;
}

function markOperation(operation: Operation) {
  return function operationMiddleware(req: Request, _res: Response, next: NextFunction): void {
    req.operation = operation;
    next();
  };
}

/** validateRequest checks path, query and body against the compiled schemas and lists every problem at once. */
function validateRequest(operation: Operation) {
  return function validateRequestMiddleware(req: Request, _res: Response, next: NextFunction): void {
    const path: Record<string, unknown> = { ...req.params };
    const query: Record<string, unknown> = { ...(req.query as Record<string, unknown>) };
    const found: FieldProblem[] = [];
    if (!operation.validatePath(path)) found.push(...toFieldProblems('path', operation.validatePath.errors));
    if (!operation.validateQuery(query)) found.push(...toFieldProblems('query', operation.validateQuery.errors));
    const body: unknown = req.body;
    if (operation.body) {
      if (body === undefined) {
        if (operation.body.required) found.push({ in: 'body', pointer: '', message: 'is required' });
      } else if (!operation.body.validate(body)) {
        found.push(...toFieldProblems('body', operation.body.validate.errors));
      }
    }
    if (found.length > 0) throw problems.validation(found);
    req.input = { path, query, body };
    next();
  };
}
