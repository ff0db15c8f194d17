/**
 * requireEntitlement: Express middleware that asks subgate about the signed-in reader and sets
 * `req.entitlement`, so one line gates an article and the page renders the paywall variant by
 * `req.entitlement.status`: 'anonymous' (log in), 'unavailable' (try again), card_expired /
 * payment_failed (update your card: `update_card_url`), anything else not entitled (subscribe).
 * It never sends a response itself: the app decides what a paywall looks like.
 * Uses only Express's types, so importing `@subgate/client/express` does not load Express.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { EntitlementClient } from './entitlement-client.js';
import { ANONYMOUS, type GateDecision } from './decision.js';

export { ANONYMOUS };
export type { AnonymousEntitlement, GateDecision } from './decision.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by requireEntitlement. */
      entitlement?: GateDecision;
    }
  }
}

export interface RequireEntitlementOptions {
  client: Pick<EntitlementClient, 'checkUser'>;
  /** The signed-in reader's user id (the one in Stripe customer metadata), or null/undefined when anonymous. */
  getUserId: (req: Request) => string | null | undefined | Promise<string | null | undefined>;
  /** The feature this route sells (e.g. 'news'); absent: the server's DEFAULT_FEATURE. */
  feature?: string;
}

export function requireEntitlement(options: RequireEntitlementOptions): RequestHandler {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const userId = await options.getUserId(req);
    const feature = options.feature;
    req.entitlement = userId ? await (feature === undefined ? options.client.checkUser(userId) : options.client.checkUser(userId, { feature })) : ANONYMOUS;
    next();
  };
}
