import { RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../config.js';
import { problems } from '../http/errors.js';
import type { Logger } from '../logging/logger.js';
import { throttledWarn } from '../logging/throttle.js';
import type { LimiterFactory } from './limiters.js';
import { retryAfterSeconds } from './middleware.js';

/** LoginGuard slows password guessing: failures per IP per day, and consecutive failures per account and IP. */
export interface LoginGuard {
  /** check throws 429 while either counter is over its limit. */
  check(email: string, ip: string): Promise<void>;
  failed(email: string, ip: string): Promise<void>;
  succeeded(email: string, ip: string): Promise<void>;
}

/** createLoginGuard builds the two limiters of the login flow; store failures never block a login. */
export function createLoginGuard(limiters: LimiterFactory, config: Config['rateLimit'], logger: Logger, onReject: () => void): LoginGuard {
  const warn = throttledWarn(logger);
  const perIp = limiters({
    keyPrefix: 'login:ip',
    points: config.loginFailsPerIpPerDay,
    durationSeconds: 86_400,
    blockSeconds: 86_400,
  });
  const perAccount = limiters({
    keyPrefix: 'login:account-ip',
    points: config.loginConsecutiveFails,
    // A day: the in-memory limiters expire keys with setTimeout, which overflows past 24.8 days.
    durationSeconds: 86_400,
    blockSeconds: config.loginBlockSeconds,
  });
  const accountKey = (email: string, ip: string) => `${email.toLowerCase()}_${ip}`;
  const quietly = async (work: () => Promise<unknown>) => {
    try {
      await work();
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) warn('login-guard', 'login limiter unavailable', { error: (error as Error)?.message });
    }
  };

  return {
    async check(email, ip) {
      let states: Array<RateLimiterRes | null>;
      try {
        states = await Promise.all([perIp.get(ip), perAccount.get(accountKey(email, ip))]);
      } catch (error) {
        warn('login-guard', 'login limiter unavailable; login not limited', { error: (error as Error)?.message });
        return;
      }
      const limits = [config.loginFailsPerIpPerDay, config.loginConsecutiveFails];
      const blocked = states.filter((state, i): state is RateLimiterRes => state !== null && state.consumedPoints >= (limits[i] as number));
      if (blocked.length > 0) {
        onReject();
        throw problems.rateLimited(Math.max(...blocked.map(retryAfterSeconds)));
      }
    },
    failed: (email, ip) => quietly(() => Promise.all([perIp.consume(ip), perAccount.consume(accountKey(email, ip))])),
    succeeded: (email, ip) => quietly(() => perAccount.delete(accountKey(email, ip))),
  };
}
