import type { NextFunction, Request, Response } from 'express';
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { problems } from '../http/errors.js';
import type { Logger } from '../logging/logger.js';
import { throttledWarn } from '../logging/throttle.js';

/** rateLimitFields are the IETF draft's RateLimit-Policy and RateLimit fields for one limiter's state. */
export function rateLimitFields(policy: string, limit: number, windowSeconds: number, state: RateLimiterRes): Record<'RateLimit-Policy' | 'RateLimit', string> {
  return {
    'RateLimit-Policy': `"${policy}";q=${limit};w=${windowSeconds}`,
    RateLimit: `"${policy}";r=${Math.max(0, state.remainingPoints)};t=${Math.ceil(state.msBeforeNext / 1000)}`,
  };
}

/** rateLimitHeaders sets the RateLimit-Policy and RateLimit fields on a response. */
export function rateLimitHeaders(res: Response, policy: string, limit: number, windowSeconds: number, state: RateLimiterRes): void {
  res.set(rateLimitFields(policy, limit, windowSeconds, state));
}

/** retryAfterSeconds rounds a limiter's wait up to whole seconds, at least one. */
export function retryAfterSeconds(state: RateLimiterRes): number {
  return Math.max(1, Math.ceil(state.msBeforeNext / 1000));
}

/** A RateLimitBucket is one per-client budget: its limiter, and the policy it announces. */
export interface RateLimitBucket {
  /** The policy's name in the RateLimit fields and the rate_limited_total metric. */
  readonly policy: string;
  readonly limiter: RateLimiterAbstract;
  readonly limit: number;
  readonly windowSeconds: number;
}

export interface GlobalLimitOptions {
  /** The bucket a request counts against, or null for one never counted (the probes). */
  readonly bucketOf: (req: Request) => RateLimitBucket | null;
  readonly onReject: (policy: string) => void;
}

/**
 * globalRateLimit counts every request per client IP (req.ip honours TRUST_PROXY only) in the
 * bucket it belongs to; over the limit it answers 429 rate_limited with Retry-After and the
 * RateLimit fields. If every store fails the request goes through, loudly: a warning in the
 * log, never a 500.
 */
export function globalRateLimit(options: GlobalLimitOptions, logger: Logger) {
  const { bucketOf, onReject } = options;
  const warn = throttledWarn(logger);
  return async function globalRateLimitMiddleware(req: Request, res: Response, next: NextFunction): Promise<void> {
    const bucket = bucketOf(req);
    if (!bucket) return next();
    const { policy, limiter, limit, windowSeconds } = bucket;
    try {
      rateLimitHeaders(res, policy, limit, windowSeconds, await limiter.consume(req.ip ?? 'unknown'));
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) {
        warn('rate-limit', 'rate limiter unavailable; request let through unlimited', { error: (error as Error)?.message });
        return next();
      }
      rateLimitHeaders(res, policy, limit, windowSeconds, error);
      onReject(policy);
      throw problems.rateLimited(retryAfterSeconds(error));
    }
    next();
  };
}
