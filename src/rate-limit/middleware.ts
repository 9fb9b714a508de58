import type { NextFunction, Request, Response } from 'express';
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { problems } from '../http/errors.js';
import type { Logger } from '../logging/logger.js';
import { throttledWarn } from '../logging/throttle.js';

/** rateLimitHeaders sets the IETF draft's RateLimit-Policy and RateLimit fields. */
export function rateLimitHeaders(res: Response, policy: string, limit: number, windowSeconds: number, state: RateLimiterRes): void {
  res.setHeader('RateLimit-Policy', `"${policy}";q=${limit};w=${windowSeconds}`);
  res.setHeader('RateLimit', `"${policy}";r=${Math.max(0, state.remainingPoints)};t=${Math.ceil(state.msBeforeNext / 1000)}`);
}

/** retryAfterSeconds rounds a limiter's wait up to whole seconds, at least one. */
export function retryAfterSeconds(state: RateLimiterRes): number {
  return Math.max(1, Math.ceil(state.msBeforeNext / 1000));
}

export interface GlobalLimitOptions {
  readonly limit: number;
  readonly windowSeconds: number;
  /** Paths never counted (the probes). */
  readonly exempt: ReadonlySet<string>;
  readonly onReject: () => void;
}

/**
 * globalRateLimit counts every request per client IP (req.ip honours TRUST_PROXY only); over the
 * limit it answers 429 rate_limited with Retry-After. If every store fails the request goes
 * through, loudly: a warning in the log, never a 500.
 */
export function globalRateLimit(limiter: RateLimiterAbstract, options: GlobalLimitOptions, logger: Logger) {
  const { limit, windowSeconds, exempt, onReject } = options;
  const warn = throttledWarn(logger);
  return async function globalRateLimitMiddleware(req: Request, res: Response, next: NextFunction): Promise<void> {
    if (exempt.has(req.path)) return next();
    try {
      rateLimitHeaders(res, 'default', limit, windowSeconds, await limiter.consume(req.ip ?? 'unknown'));
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) {
        warn('rate-limit', 'rate limiter unavailable; request let through unlimited', { error: (error as Error)?.message });
        return next();
      }
      rateLimitHeaders(res, 'default', limit, windowSeconds, error);
      onReject();
      throw problems.rateLimited(retryAfterSeconds(error));
    }
    next();
  };
}
