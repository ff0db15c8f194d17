/**
 * `@subgate/client`: what a content service imports to gate paid content on subgate's answers.
 *
 *   import { createEntitlementClient } from '@subgate/client'; // requireEntitlement: '@subgate/client/express'
 *   const entitlements = createEntitlementClient({ baseUrl, token });
 *   app.get('/articles/:slug', requireEntitlement({ client: entitlements, getUserId }), render);
 */
export { createEntitlementClient } from './entitlement-client.js';
export type { CheckOptions, EntitlementClient, EntitlementClientOptions, EntitlementClientStats } from './entitlement-client.js';
export { ANONYMOUS } from './decision.js';
export type { AnonymousEntitlement, GateDecision } from './decision.js';
export { createSseParser } from './sse.js';
export type { SseMessage, SubscriptionState } from './sse.js';
export { EntitlementClientError } from './types.js';
export type {
  AnswerSource,
  EntitlementAnswer,
  EntitlementBody,
  EntitlementChangeEvent,
  EntitlementCheck,
  EntitlementStatus,
  FeatureAnswer,
  Lookup,
  UnavailableAnswer,
} from './types.js';
// The core uses only Web APIs (fetch, Web Streams, TextDecoder, AbortSignal): it runs on Node and at the
// edge. Framework-free gating for any runtime; the adapters are the ./express and ./fastify entry points.
export { createGate } from './gate.js';
export type { Gate, GateOptions } from './gate.js';
export type { EntitlementChange, EntitlementSummary } from './wire-change.js';
