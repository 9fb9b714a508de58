import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../logging/logger.js';

/** A RequestLogger writes the one line per request. */
export type RequestLogger = (record: Record<string, unknown>) => void;

/** loggerRequestLog writes request lines through the process logger, at info level. */
export function loggerRequestLog(logger: Logger): RequestLogger {
  return (record) => logger.info('request', record);
}
import type { Metrics } from '../metrics/metrics.js';

const SANE_REQUEST_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

/**
 * requestContext gives every request an id (the client's when sane), echoes it, and when the
 * response ends logs one line and counts it (by route template, never the raw path).
 */
export function requestContext(logRequest: RequestLogger, metrics: Metrics) {
  return function requestContextMiddleware(req: Request, res: Response, next: NextFunction): void {
    const offered = req.headers['x-request-id'];
    req.id = typeof offered === 'string' && SANE_REQUEST_ID.test(offered) ? offered : randomUUID();
    req.startedAt = process.hrtime.bigint();
    res.setHeader('X-Request-Id', req.id);
    res.once('close', () => {
      const durationMs = Number(process.hrtime.bigint() - req.startedAt) / 1e6;
      const labels = { method: req.method, route: req.operation?.path ?? 'unmatched', status: res.statusCode };
      metrics.requests.inc(labels);
      metrics.requestDuration.observe(labels, durationMs / 1000);
      logRequest({
        requestId: req.id,
        method: req.method,
        route: req.operation?.path ?? null,
        path: req.operation ? undefined : req.path,
        status: res.statusCode,
        durationMs,
        bytes: Number(res.getHeader('content-length') ?? 0),
        userId: req.auth?.userId ?? null,
        ip: req.ip,
        cache: res.getHeader('x-cache') ?? null,
        aborted: !res.writableFinished || undefined,
        pid: process.pid,
      });
    });
    next();
  };
}
