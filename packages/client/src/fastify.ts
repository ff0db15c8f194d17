/**
 * A Fastify hook that asks subgate about the signed-in reader and sets `request.entitlement`, for an
 * `onRequest` or `preHandler` hook (a route's, or the app's with `addHook`). Like the Express middleware it
 * never replies itself: the route renders the paywall variant by `request.entitlement.status`.
 * Uses only Fastify's types, so importing it does not load Fastify.
 */
import type { FastifyRequest } from 'fastify';
import type { GateDecision } from './decision.js';
import { createGate, type GateOptions } from './gate.js';

export { ANONYMOUS } from './decision.js';
export type { AnonymousEntitlement, GateDecision } from './decision.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the entitlement hook. */
    entitlement?: GateDecision;
  }
}

export type EntitlementHookOptions = GateOptions<FastifyRequest>;

/** `fastify.get('/articles/:slug', { preHandler: entitlementHook({ client, getUserId }) }, handler)` */
export function entitlementHook(options: EntitlementHookOptions): (request: FastifyRequest) => Promise<void> {
  const gate = createGate(options);
  return async (request) => {
    request.entitlement = await gate(request);
  };
}
