import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Config } from '../config.js';
import { problems } from '../http/errors.js';
import type { Logger } from '../logging/logger.js';
import { throttledWarn } from '../logging/throttle.js';
import type { LimiterLayers } from './limiters.js';
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

/** What one limit's stores said to a consume: which counted it, which refused it, and a store error. */
interface Taken {
  readonly key: string;
  readonly counted: readonly RateLimiterAbstract[];
  readonly refusals: readonly RateLimiterRes[];
  readonly error: unknown;
}

/** take consumes one point of key in every store of a limit, in parallel. */
async function take(stores: readonly RateLimiterAbstract[], key: string): Promise<Taken> {
  const results = await Promise.allSettled(stores.map((store) => store.consume(key, 1)));
  const rejections = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  return {
    key,
    counted: stores.filter((_, i) => results[i]?.status === 'fulfilled'),
    refusals: rejections.filter((r): r is RateLimiterRes => r instanceof RateLimiterRes),
    error: rejections.find((r) => !(r instanceof RateLimiterRes)),
  };
}

/**
 * createLoginGuard builds the two limits of the password checks, each counted in every store it
 * has (this host's, and Redis when configured); a guess goes on only if every store that answered
 * has room, and at least one answered for each limit.
 *
 * When no store can count a limit (Redis down and the host's store failing too), the check is
 * refused with 503 instead of run unlimited: guessing must not become free because a store is slow
 * or down, and the host's store (the cluster primary, or SQLite under PM2) only fails when the
 * host itself is in trouble. The one exception is a process that is draining (`draining()`), as
 * when its primary is gone: it takes no new connection, so the checks it lets through are the
 * requests in flight, at most one per connection, and those are answered rather than refused.
 * Failing to give a point back is only logged: it errs strict.
 */
export function createLoginGuard(
  layers: LimiterLayers,
  config: Config['rateLimit'],
  logger: Logger,
  hooks: { readonly onReject: () => void; readonly draining: () => boolean },
): LoginGuard {
  const { onReject, draining } = hooks;
  const warn = throttledWarn(logger);
  const perIp = layers({
    keyPrefix: 'login:ip',
    points: config.loginFailsPerIpPerDay,
    durationSeconds: 86_400,
    blockSeconds: 86_400,
  });
  const perAccount = layers({
    keyPrefix: 'login:account-ip',
    points: config.loginConsecutiveFails,
    // A day: the in-memory limiters expire keys with setTimeout, which overflows past 24.8 days.
    durationSeconds: 86_400,
    blockSeconds: config.loginBlockSeconds,
  });
  const quietly = async (work: Array<Promise<unknown>>) => {
    for (const outcome of await Promise.allSettled(work)) {
      if (outcome.status === 'rejected' && !(outcome.reason instanceof RateLimiterRes)) {
        warn('login-guard', 'login limiter unavailable; a count was not given back, aligned or reset', { error: (outcome.reason as Error)?.message });
      }
    }
  };
  /** The RateLimit policy of each limit, in the order taken. */
  const policies = [
    { policy: 'login-ip', limit: config.loginFailsPerIpPerDay },
    { policy: 'login-account', limit: config.loginConsecutiveFails },
  ];
  const giveBack = (taken: readonly Taken[]) => taken.flatMap((t) => t.counted.map((store) => store.reward(t.key, 1)));
  /**
   * align blocks a limit's stores that still had room when another of its stores refused, for as
   * long as that one will: concurrent guesses reach the stores in different orders, and a store
   * left at the limit without a block would start a block of its own when the first one ends.
   */
  const align = (t: Taken) => {
    const seconds = Math.max(...t.refusals.map(retryAfterSeconds));
    return t.counted.map((store) => store.block(t.key, seconds));
  };

  return {
    async attempt(email, ip, check) {
      const accountKey = `${email.toLowerCase()}_${ip}`;
      const taken = await Promise.all([take(perIp, ip), take(perAccount, accountKey)]);
      if (taken.some((t) => t.refusals.length > 0)) {
        // The limit that refused is aligned; the other one gets its point back, as this guess was not checked.
        await quietly(taken.flatMap((t) => (t.refusals.length > 0 ? align(t) : giveBack([t]))));
        // The store that makes the client wait longest names the RateLimit fields of the 429.
        const [longest] = policies
          .flatMap((policy, i) => (taken[i] as Taken).refusals.map((state) => ({ ...policy, state })))
          .sort((x, y) => y.state.msBeforeNext - x.state.msBeforeNext);
        onReject();
        throw problems.rateLimited(retryAfterSeconds(longest!.state), rateLimitFields(longest!.policy, longest!.limit, 86_400, longest!.state));
      }
      if (taken.some((t) => t.counted.length === 0)) {
        const error = (taken.find((t) => t.error)?.error as Error)?.message;
        if (draining()) {
          warn('login-guard', 'login limiter unavailable while draining; a request in flight checked unlimited', { error });
        } else {
          await quietly(giveBack(taken));
          warn('login-guard', 'login limiter unavailable; password check refused', { error });
          throw problems.unavailable('Login protection is unavailable; retry shortly.');
        }
      }
      let ok: boolean;
      try {
        ok = await check();
      } catch (error) {
        await quietly(giveBack(taken));
        throw error;
      }
      if (ok) {
        const [ipTaken] = taken as [Taken, Taken];
        await quietly([...perAccount.map((store) => store.delete(accountKey)), ...giveBack([ipTaken])]);
      }
      return ok;
    },
  };
}
