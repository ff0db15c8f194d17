/**
 * The shapes of Stripe ids, in one place: every id subgate takes from a payload, a query, a path or a
 * token is checked here. Stripe ids are `<prefix>_<letters, digits, underscores>` and at most 255
 * characters; anything longer or stranger is not an id, whoever signed the payload carrying it (a
 * 200,000-character "customer id" would otherwise become a refresh job retried for hours).
 */

export const STRIPE_ID_MAX_LENGTH = 255;

const OBJECT_ID = /^[a-z][a-z0-9]*_[A-Za-z0-9_]+$/;
const CUSTOMER_ID = /^cus_[A-Za-z0-9_]+$/;
const EVENT_ID = /^evt_[A-Za-z0-9_]+$/;
const PRODUCT_ID = /^prod_[A-Za-z0-9_]+$/;

/** The customer id pattern as JSON Schema / OpenAPI spell it (with `maxLength: STRIPE_ID_MAX_LENGTH`). */
export const CUSTOMER_ID_PATTERN = CUSTOMER_ID.source;

const matches = (pattern: RegExp, value: unknown): value is string =>
  typeof value === 'string' && value.length <= STRIPE_ID_MAX_LENGTH && pattern.test(value);

/** Any Stripe object id (`cus_…`, `pm_…`, `in_…`, `card_…`, …). */
export const isStripeId = (value: unknown): value is string => matches(OBJECT_ID, value);
export const isCustomerId = (value: unknown): value is string => matches(CUSTOMER_ID, value);
export const isEventId = (value: unknown): value is string => matches(EVENT_ID, value);
export const isProductId = (value: unknown): value is string => matches(PRODUCT_ID, value);

/** The id of an expandable reference: an id string, or the expanded object's `id`; null when neither is an id. */
export function idOf(ref: unknown): string | null {
  const id = typeof ref === 'object' && ref !== null ? (ref as { id?: unknown }).id : ref;
  return isStripeId(id) ? id : null;
}

/** The customer an expandable reference names, or null when it names none (or not a `cus_…` id). */
export function customerIdOf(ref: unknown): string | null {
  const id = idOf(ref);
  return id !== null && isCustomerId(id) ? id : null;
}
