/**
 * Which Stripe API version webhook events arrive in. Stripe renders each event in its endpoint's version,
 * not in the SDK's, so an endpoint made years ago keeps sending old shapes after the SDK moves on. subgate
 * reads both (src/domain/stripe-moved-fields.ts), but an operator should know: every accepted event is
 * counted by its version, and the first event in a version other than the SDK's is logged at warn, once
 * per version for the life of the watch (one per process: the webhook router's).
 */
import type { Logger } from '../logger.js';

/** A Stripe API version label: `2020-08-27`, `2026-10-28.endive`; anything else is counted as 'other'. */
const VERSION = /^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$/;

export interface ApiVersionWatchDeps {
  /** The version the SDK pins (Stripe.API_VERSION): what subgate's own API calls are answered in. */
  expected: string;
  logger: Logger;
  count?: (apiVersion: string) => void;
}

export type ObserveApiVersion = (apiVersion: string | null | undefined, eventId: string) => void;

export function createApiVersionWatch(deps: ApiVersionWatchDeps): ObserveApiVersion {
  const warned = new Set<string>();
  return (apiVersion, eventId) => {
    const label = typeof apiVersion === 'string' ? (VERSION.test(apiVersion) ? apiVersion : 'other') : 'none';
    deps.count?.(label);
    if (label === deps.expected || warned.has(label)) return;
    warned.add(label);
    deps.logger.warn(
      { apiVersion: label, sdkApiVersion: deps.expected, eventId },
      'webhook events arrive in another Stripe API version than the SDK pins; set the endpoint to the pinned version (README, Stripe API versions)',
    );
  };
}
