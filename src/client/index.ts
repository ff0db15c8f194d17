/**
 * `subgate/client`: what a content service imports to gate paid content on subgate's answers.
 *
 *   import { createEntitlementClient, requireEntitlement } from 'subgate/client';
 *   const entitlements = createEntitlementClient({ baseUrl, token });
 *   app.get('/articles/:slug', requireEntitlement({ client: entitlements, getUserId }), render);
 */
export { createEntitlementClient } from './entitlement-client.js';
export type { CheckOptions, EntitlementClient, EntitlementClientOptions, EntitlementClientStats } from './entitlement-client.js';
export { requireEntitlement, ANONYMOUS } from './express.js';
export type { AnonymousEntitlement, GateDecision, RequireEntitlementOptions } from './express.js';
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
