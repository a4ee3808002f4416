import { AppError } from '@workemon/errors';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

export interface RateLimit {
  /** Requests allowed per window; 0 turns the limit off. */
  points: number;
  windowSeconds: number;
}

/**
 * A fixed-window limit per key, kept in this process (with N replicas the mesh-wide limit is N×).
 * `consume` throws 429 with Retry-After when the key is over its limit.
 */
export class KeyedRateLimiter {
  private readonly limiter: RateLimiterMemory | undefined;

  constructor(
    private readonly limit: RateLimit,
    private readonly what: string,
  ) {
    this.limiter =
      limit.points > 0
        ? new RateLimiterMemory({ points: limit.points, duration: limit.windowSeconds })
        : undefined;
  }

  async consume(key: string): Promise<void> {
    if (!this.limiter) return;
    try {
      await this.limiter.consume(key);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      const retryAfterSeconds = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
      throw new AppError(
        'TOO_MANY_REQUESTS',
        `Rate limit exceeded: at most ${this.limit.points} requests per ${this.limit.windowSeconds} s ${this.what}; retry after ${retryAfterSeconds} s`,
        { retryAfterSeconds },
      );
    }
  }
}
