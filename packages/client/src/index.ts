/**
 * `@subgate/client`: what a content service imports to gate paid content on subgate's answers. The core
 * uses only Web APIs (fetch, Web Streams, TextDecoder, AbortSignal), so it runs on Node and at the edge;
 * the framework adapters are `@subgate/client/express` and `@subgate/client/fastify`.
 *
 *   import { createEntitlementClient, createGate } from '@subgate/client';
 *   const entitlements = createEntitlementClient({ baseUrl, token });
 *   const gate = createGate({ client: entitlements, getUserId });   // (request) => Promise<GateDecision>
 */
export { createEntitlementClient } from './entitlement-client.js';
export type { EntitlementClient, EntitlementClientOptions, EntitlementClientStats } from './entitlement-client.js';
export { ANONYMOUS } from './decision.js';
export type { AnonymousEntitlement, GateDecision } from './decision.js';
export { createGate } from './gate.js';
export type { Gate, GateOptions } from './gate.js';
export { createSseParser } from './sse.js';
export type { SseMessage, SubscriptionState } from './sse.js';
export { EntitlementClientError } from './types.js';
export type {
  AnswerSource,
  EntitlementAnswer,
  EntitlementBody,
  EntitlementChange,
  EntitlementChangeEvent,
  EntitlementCheck,
  EntitlementStatus,
  EntitlementSummary,
  Lookup,
  UnavailableAnswer,
} from './types.js';
