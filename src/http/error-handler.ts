import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../logging/logger.js';
import { throttledWarn } from '../logging/throttle.js';
import { AppError, problemBody, problems } from './errors.js';
import { jsonBytes, PROBLEM_TYPE, writeBody } from './json-response.js';

/** errorHandler is the one place an error becomes a response: RFC 9457 problem+json, details of 5xx only in the log. */
export function errorHandler(logger: Logger) {
  const warn = throttledWarn(logger);
  return function handleError(error: unknown, req: Request, res: Response, _next: NextFunction): void {
    const problem = toAppError(error);
    if (problem.status === 503) {
      // A condition to retry (disk full, database locked), not a bug: a warning now and then, no stack per request.
      const cause = problem.cause as { code?: unknown; message?: unknown } | undefined;
      warn(problem.code, 'request refused for now', { requestId: req.id, code: problem.code, cause: cause?.code ?? cause?.message });
    } else if (problem.status >= 500) {
      logger.error('request failed', { requestId: req.id, code: problem.code, error: problem.cause ?? error });
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.status(problem.status).set(problem.headers);
    writeBody(res, jsonBytes(problemBody(problem, req.id)), PROBLEM_TYPE);
  };
}

/** notFound answers every path that no operation, page or doc matched. */
export function notFound(_req: Request, _res: Response, next: NextFunction): void {
  next(problems.routeNotFound());
}

function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  // Errors that Express and its parsers raise for bad requests (a malformed %-escape in the path, say).
  const status = (error as { status?: unknown } | null)?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return problems.badRequest(error, status);
  }
  return problems.internal(error);
}
