import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { tierLimits, type TierLimits } from '@tenant-app/db';
import { errors } from '@tenant-app/graphql';

/** How fast one tenant may send requests. */
export type TierRate = Pick<TierLimits, 'requestsPerSecond' | 'burst'>;

/**
 * Requests per tenant, sized by the tenant's tier, counted in this process (N replicas allow N
 * times the rate; a shared store is the step beyond). rate-limiter-flexible has no token bucket
 * as such: its BurstyRateLimiter is the library's way to the same shape, a one-second window of
 * `requestsPerSecond` topped up from a pool of `burst` requests that renews every
 * burst / requestsPerSecond seconds, which is when a drained bucket would be full again. A
 * window edge may let a tenant through at up to twice its rate for a moment: good enough to stop
 * abuse, and not worth code of our own.
 */
export class TenantRateLimiter {
  readonly #rateOf: (tier: string) => TierRate;
  readonly #byTier = new Map<string, BurstyRateLimiter>();

  /** `rateOf` gives a tier's rate; the tiers of `@tenant-app/db` unless a deployment has its own. */
  constructor(rateOf: (tier: string) => TierRate = tierLimits) {
    this.#rateOf = rateOf;
  }

  /** Takes one request from the tenant's allowance, or throws RATE_LIMITED (429) with the seconds to wait. */
  async take(tenant: { id: string; tier: string }): Promise<void> {
    try {
      await this.#limiterOf(tenant.tier).consume(tenant.id);
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) throw errors.rateLimited(Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)));
      throw rejection;
    }
  }

  #limiterOf(tier: string): BurstyRateLimiter {
    let limiter = this.#byTier.get(tier);
    if (!limiter) {
      const { requestsPerSecond, burst } = this.#rateOf(tier);
      limiter = new BurstyRateLimiter(
        new RateLimiterMemory({ keyPrefix: `${tier}-rate`, points: requestsPerSecond, duration: 1 }),
        new RateLimiterMemory({ keyPrefix: `${tier}-burst`, points: burst, duration: Math.max(1, Math.ceil(burst / requestsPerSecond)) }),
      );
      this.#byTier.set(tier, limiter);
    }
    return limiter;
  }
}
