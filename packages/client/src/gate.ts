/**
 * createGate: the framework-free `(request) => decision` a paywall needs, for any server or edge runtime
 * (Cloudflare Workers, Next.js middleware and route handlers, Koa, Hono, plain `node:http`). The Express
 * middleware and the Fastify hook are this same function with the framework's request type.
 */
import { ANONYMOUS, type GateDecision } from './decision.js';
import type { EntitlementClient } from './entitlement-client.js';

export interface GateOptions<Req> {
  client: Pick<EntitlementClient, 'checkUser'>;
  /** The signed-in reader's user id (the one in Stripe customer metadata), or null/undefined when anonymous. */
  getUserId: (request: Req) => string | null | undefined | Promise<string | null | undefined>;
  /** The feature this gate sells (e.g. 'news'); absent: the server's DEFAULT_FEATURE. */
  feature?: string;
}

export type Gate<Req> = (request: Req) => Promise<GateDecision>;

/**
 * Never throws for subgate being down (that is `status: 'unavailable'`); throws EntitlementClientError for
 * a misuse (wrong token, malformed id) and whatever `getUserId` throws.
 */
export function createGate<Req>(options: GateOptions<Req>): Gate<Req> {
  return async (request) => {
    const userId = await options.getUserId(request);
    if (!userId) return ANONYMOUS;
    return options.feature === undefined ? options.client.checkUser(userId) : options.client.checkUser(userId, { feature: options.feature });
  };
}
