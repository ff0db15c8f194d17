/**
 * What `@subgate/client` hands a content service: the wire answer of GET /v1/entitlements, plus where the
 * answer came from. This package owns the wire shapes (it is published alone and imports nothing of the
 * server); the server types its responses by them, and a type-level check in the server fails its build
 * when its statuses or its change shape stop matching these.
 */

export type { EntitlementStatus, EntitlementSummary, EntitlementChange } from './wire-change.js';
import type { EntitlementChange, EntitlementStatus } from './wire-change.js';

/** One feature's answer in `features[]`. */
export interface FeatureAnswer {
  feature: string;
  entitled: boolean;
  status: EntitlementStatus;
  reason: string;
  grace_until: string | null;
  subscription: { id: string; status: string; current_period_end: string | null } | null;
}

/** The body of GET /v1/entitlements, as documented in the README and /openapi.json. */
export interface EntitlementBody {
  customer: string | null;
  user: string | null;
  entitled: boolean;
  status: EntitlementStatus;
  reason: string;
  /** Reader-facing wording a content service may show as is. */
  message: string;
  grace_until: string | null;
  subscription: { id: string; status: string; current_period_end: string | null } | null;
  card: { brand: string; last4: string; exp_month: number; exp_year: number; expired: boolean } | null;
  /** A link for the reader to fix their card (a button on the paywall), or null. */
  update_card_url: string | null;
  checked_at: string;
  // Both are always sent; optional here so answers from a server before features (or built by hand in a
  // content service's tests) still type.
  /** The feature the top-level answer is for (the server's DEFAULT_FEATURE when none was asked). */
  feature?: string;
  /** Every feature the reader has or had, each with its answer (may be empty). */
  features?: FeatureAnswer[];
}

/**
 * `network`: asked subgate just now; `cache`: a fresh cached answer; `stale`: subgate could not be reached
 * and `staleIfErrorMs` allowed the last known answer.
 */
export type AnswerSource = 'network' | 'cache' | 'stale';

export type EntitlementAnswer = EntitlementBody & { source: AnswerSource };

/**
 * The fail-closed answer when subgate cannot be reached and no last known answer may be used: never
 * entitled. Show "we could not check your subscription, please try again" rather than a paywall.
 */
export interface UnavailableAnswer {
  entitled: false;
  status: 'unavailable';
  source: 'unavailable';
  customer: null;
  user: string | null;
  update_card_url: null;
  message: string;
  /** Why (timeout, connection refused, HTTP 503…), for logs. */
  error: string;
}

export type EntitlementCheck = EntitlementAnswer | UnavailableAnswer;

export type Lookup = { user: string; customer?: never } | { customer: string; user?: never };

/** One change from GET /v1/entitlements/events (`event: change`): the stream's own entry shape. */
export type EntitlementChangeEvent = EntitlementChange;

/** A misuse the client will not paper over: a bad token (401), a malformed id (400). */
export class EntitlementClientError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'EntitlementClientError';
  }
}
