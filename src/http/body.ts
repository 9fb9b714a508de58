import express, { type NextFunction, type Request, type Response } from 'express';
import { problems, type AppError } from './errors.js';

/** jsonBody parses an application/json body up to limit bytes; anything else is a 4xx problem, never a 500. */
export function jsonBody(limit: number) {
  const parse = express.json({ limit, strict: true, type: () => true });
  return function jsonBodyMiddleware(req: Request, res: Response, next: NextFunction): void {
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (!hasBody) {
      req.body = undefined;
      return next();
    }
    if (req.is('application/json') !== 'application/json') return next(problems.unsupportedMediaType());
    parse(req, res, (error?: unknown) => next(error === undefined ? undefined : bodyProblem(error, limit)));
  };
}

function bodyProblem(error: unknown, limit: number): AppError {
  switch ((error as { type?: string }).type) {
    case 'entity.too.large':
      return problems.payloadTooLarge(limit);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return problems.unsupportedMediaType();
    default:
      return problems.invalidJson(error);
  }
}
