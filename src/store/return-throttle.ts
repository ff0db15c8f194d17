/**
 * Owns `<prefix>:return:<customer id>`: a short-lived marker that the update-card return re-read this
 * customer from Stripe. A reader reloading the return page, or a link opened many times, then costs
 * Stripe one re-read per window instead of one per hit.
 */
import type { Redis } from 'ioredis';

export interface ReturnThrottle {
  /** true when this call may re-read the customer now; false when one did within the window. */
  tryAcquire(customerId: string): Promise<boolean>;
}

export function createReturnThrottle(deps: { redis: Redis; prefix: string; windowMs?: number }): ReturnThrottle {
  const windowMs = deps.windowMs ?? 10_000;
  return {
    async tryAcquire(customerId) {
      return (await deps.redis.set(`${deps.prefix}:return:${customerId}`, '1', 'PX', windowMs, 'NX')) === 'OK';
    },
  };
}
