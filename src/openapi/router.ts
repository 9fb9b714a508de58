import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { problems, type FieldProblem } from '../http/errors.js';
import { runChain } from '../http/pipeline.js';
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

interface PathEntry {
  /** The path template's pattern, or null for a path without parameters. */
  readonly pattern: RegExp | null;
  readonly names: readonly string[];
  readonly methods: Map<string, readonly RequestHandler[]>;
  readonly allow: readonly string[];
}

/**
 * operationsRouter binds every operation of the spec to its handler by operationId, refusing to
 * start when the two disagree, and answers 405 with Allow for a known path and another method.
 * It is one middleware with its own lookup (a map for fixed paths, patterns for the rest):
 * Express's router would walk every route's layers for each request.
 */
export function operationsRouter(spec: Spec, handlers: Readonly<Record<string, OperationHandler>>, stages: OperationStages): RequestHandler {
  const missing = spec.operations.filter((op) => !handlers[op.id]).map((op) => op.id);
  const unknown = Object.keys(handlers).filter((id) => !spec.operations.some((op) => op.id === id));
  if (missing.length || unknown.length) {
    throw new Error(`openapi.yaml and the handlers disagree: no handler for [${missing.join(', ')}], not in the spec: [${unknown.join(', ')}]`);
  }

  const fixed = new Map<string, PathEntry>();
  const templated: PathEntry[] = [];
  for (const operations of spec.byRoutePath.values()) {
    const path = (operations[0] as Operation).path;
    const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string);
    const allow = operations.map((op) => op.method.toUpperCase());
    if (allow.includes('GET')) allow.push('HEAD');
    const methods = new Map<string, readonly RequestHandler[]>();
    for (const operation of operations) {
      const chain: RequestHandler[] = [
        markOperation(operation),
        ...stages.before(operation),
        ...(operation.body ? [stages.body] : []),
        validateRequest(operation),
        ...stages.after(operation),
        handlers[operation.id] as RequestHandler,
      ];
      methods.set(operation.method.toUpperCase(), chain);
      if (operation.method === 'get') methods.set('HEAD', chain);
    }
    const pattern = names.length ? new RegExp(`^${path.replace(/[.+*?^$()[\]|\\]/g, '\\$&').replace(/\{\w+\}/g, '([^/]+)')}$`) : null;
    const entry = { pattern, names, methods, allow };
    if (pattern) templated.push(entry);
    else fixed.set(path, entry);
  }

  return function dispatchOperation(req: Request, res: Response, next: NextFunction): void {
    const path = req.path;
    let entry = fixed.get(path);
    let match: RegExpExecArray | null = null;
    if (!entry) {
      for (const candidate of templated) {
        match = (candidate.pattern as RegExp).exec(path);
        if (match) {
          entry = candidate;
          break;
        }
      }
    }
    if (!entry) return next();
    const chain = entry.methods.get(req.method);
    if (!chain) return next(problems.methodNotAllowed(entry.allow));
    const params: Record<string, string> = {};
    try {
      entry.names.forEach((name, i) => (params[name] = decodeURIComponent(match?.[i + 1] as string)));
    } catch {
      return next(problems.invalidPath());
    }
    req.params = params;
    runChain(chain, req, res, next);
  };
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
    const path = operation.readPath(req.params);
    const query = operation.readQuery(req.query as Record<string, unknown>);
    const found: FieldProblem[] = [...(path.problems ?? []), ...(query.problems ?? [])];
    const body: unknown = req.body;
    if (operation.body) {
      if (body === undefined) {
        if (operation.body.required) found.push({ in: 'body', pointer: '', message: 'is required' });
      } else if (!operation.body.validate(body)) {
        found.push(...toFieldProblems('body', operation.body.validate.errors));
      }
    }
    if (found.length > 0) throw problems.validation(found);
    req.input = { path: path.values as Record<string, unknown>, query: query.values as Record<string, unknown>, body };
    next();
  };
}
