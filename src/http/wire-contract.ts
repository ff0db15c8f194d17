/**
 * The server's side of the wire contract, checked by the compiler. `@subgate/client` owns the wire shapes
 * (it is published alone, so it cannot import the server); the answer body is typed by it directly
 * (entitlement-response.ts), and the domain's own statuses and change shape, which the answer and the
 * change feed send, must match it. A status or a change field added on one side only fails `tsc` here.
 */
import type { EntitlementChange as WireChange, EntitlementStatus as WireStatus, EntitlementSummary as WireSummary } from '@subgate/client';
import type { EntitlementChange, EntitlementSummary } from '../domain/entitlement-change.js';
import type { EntitlementStatus } from '../domain/projection.js';

/** true only when A and B are the same type (not merely assignable one way). */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Compiles only for `true`: the error points at the pair that differs. */
type Holds<T extends true> = T;

/** The statuses subgate sends are exactly the ones the client knows. */
export type StatusesMatch = Holds<Same<EntitlementStatus, WireStatus>>;
/** Every field a change or its summary carries is on both sides… */
export type ChangeFieldsMatch = Holds<Same<keyof EntitlementChange, keyof WireChange>>;
export type SummaryFieldsMatch = Holds<Same<keyof EntitlementSummary, keyof WireSummary>>;
/** …and what the feed publishes is what the client reads (the domain may be narrower, e.g. its reasons). */
export type ChangeConforms = Holds<EntitlementChange extends WireChange ? true : false>;
