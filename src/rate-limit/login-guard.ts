import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Config } from '../config.js';
import { problems } from '../http/errors.js';
import type { Logger } from '../logging/logger.js';
import { throttledWarn } from '../logging/throttle.js';
import type { LimiterFactory } from './limiters.js';
import { rateLimitFields, retryAfterSeconds } from './middleware.js';

/**
 * LoginGuard slows password guessing: failed checks per IP per day, and consecutive failed
 * checks per account and IP. Every check of a password (login, password change) goes through it.
 */
export interface LoginGuard {
  /**
   * attempt counts one guess against both limits *before* check runs, so parallel guesses cannot
   * all pass a read of the counters: past either limit it throws 429 and check never runs. A
   * success resets the account's count for this IP and gives back the IP's point; a check that
   * throws (the bcrypt queue refused it) gives back both, since no answer was given.
   */
  attempt(email: string, ip: string, check: () => Promise<boolean>): Promise<boolean>;
}

/**
 * createLoginGuard builds the two limiters of the password checks.
 *
 * When no store can count (Redis and the per-host insurance both fail), a check is refused with
 * 503 instead of run unlimited: guessing must not become free because the store is slow or down,
 * and with the insurance limiter in the cluster primary (or SQLite under PM2) that only happens
 * when the host itself is in trouble. Failing to give a point back is only logged: it errs strict.
 */
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
  const quietly = async (work: () => Promise<unknown>) => {
    try {
      await work();
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) warn('login-guard', 'login limiter unavailable; a point was not given back', { error: (error as Error)?.message });
    }
  };
  const giveBack = (counted: ReadonlyArray<[RateLimiterAbstract, string]>) =>
    quietly(() => Promise.all(counted.map(([limiter, key]) => limiter.reward(key, 1))));

  return {
    async attempt(email, ip, check) {
      const keys: Array<[RateLimiterAbstract, string]> = [
        [perIp, ip],
        [perAccount, `${email.toLowerCase()}_${ip}`],
      ];
      const policies = [
        { policy: 'login-ip', limit: config.loginFailsPerIpPerDay },
        { policy: 'login-account', limit: config.loginConsecutiveFails },
      ];
      const outcomes = await Promise.allSettled(keys.map(([limiter, key]) => limiter.consume(key, 1)));
      const refusals = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
      if (refusals.length > 0) {
        // A guess refused by one limiter was not checked: the other one gets its point back.
        await giveBack(keys.filter((_, i) => outcomes[i]?.status === 'fulfilled'));
        // The limiter that makes the client wait longest names the RateLimit fields of the 429.
        const limited = outcomes
          .map((o, i) => ({ state: o.status === 'rejected' ? (o.reason as unknown) : null, ...policies[i]! }))
          .filter((l): l is typeof l & { state: RateLimiterRes } => l.state instanceof RateLimiterRes)
          .sort((x, y) => y.state.msBeforeNext - x.state.msBeforeNext);
        const longest = limited[0];
        if (longest) {
          onReject();
          throw problems.rateLimited(retryAfterSeconds(longest.state), rateLimitFields(longest.policy, longest.limit, 86_400, longest.state));
        }
        warn('login-guard', 'login limiter unavailable; password check refused', { error: (refusals[0] as Error)?.message });
        throw problems.unavailable('Login protection is unavailable; retry shortly.');
      }
      let ok: boolean;
      try {
        ok = await check();
      } catch (error) {
        await giveBack(keys);
        throw error;
      }
      if (ok) await quietly(() => Promise.all([perAccount.delete(keys[1]![1]), perIp.reward(ip, 1)]));
      return ok;
    },
  };
}
