/**
 * An event cut down to what subgate reads from it: the envelope, and of `data.object` and
 * `data.previous_attributes` only the fields listed below. This is what the stripe-events job carries,
 * so a queued or finished job (kept an hour, a failed one 30 days, and shown in Bull Board) holds no
 * e-mail address, name, address or metadata, and its size no longer follows the payload's: a validly
 * signed event nested 10,000 deep made BullMQ's JSON.stringify overflow the stack on every delivery.
 *
 * The lists are THE place that says which payload fields subgate reads: event-routing.ts and
 * expiry-signals.ts read nothing else, and a test checks they decide the same on the digest as on the
 * whole event. A new reader adds its fields here. Walking follows these lists only, so it is as deep as
 * they are, whatever the payload's depth; strings are capped.
 */
import type { StripeEventLike, StripeEventObjectLike } from './stripe-shapes.js';
import { STRIPE_ID_MAX_LENGTH } from './stripe-ids.js';

const STRING = 'string';
const NUMBER = 'number';

/** An expandable reference: an id string, or the expanded object cut to its id and `expanded`. */
class Ref {
  constructor(readonly expanded: Fields) {}
}
/** A field is a string, a number, a reference, or a nested object cut to its own fields. */
type Field = typeof STRING | typeof NUMBER | Ref | Fields;
export interface Fields {
  readonly [name: string]: Field;
}

const ref = (expanded: Fields = {}): Ref => new Ref({ id: STRING, ...expanded });

const CARD_EXPIRY = { exp_month: NUMBER, exp_year: NUMBER } as const;
const CHARGE_DECLINE = { failure_code: STRING, outcome: { reason: STRING } } as const;
/** A charge's decline, the card it tried and the expiry it tried it with. */
const CHARGE_FAILURE = { ...CHARGE_DECLINE, payment_method: ref(), source: ref(), payment_method_details: { card: CARD_EXPIRY } } as const;
const PAYMENT_ERROR = { code: STRING, decline_code: STRING, charge: ref(), payment_method: ref({ card: CARD_EXPIRY }) } as const;

/** What event-routing.ts and expiry-signals.ts read of `data.object`, whatever the event type. */
export const EVENT_OBJECT_FIELDS = {
  id: STRING,
  object: STRING,
  customer: ref(),
  status: STRING,
  // charge.failed: its decline, and the card that was declined (with its expiry)
  ...CHARGE_DECLINE,
  payment_method: ref(),
  source: ref(),
  payment_method_details: { card: CARD_EXPIRY },
  // customer.source.expiring: a legacy card carries its expiry on top, a Sources object under `card`
  ...CARD_EXPIRY,
  card: CARD_EXPIRY,
  // invoice.*: the subscription billed (legacy and current API), when it was paid, and the decline of
  // its payment when the charge or payment intent came expanded
  subscription: ref(),
  parent: { subscription_details: { subscription: ref() } },
  status_transitions: { paid_at: NUMBER },
  // (the invoice's `payments` list is never in a webhook: a current-version failure is read from Stripe)
  charge: ref(CHARGE_FAILURE),
  payment_intent: ref({ last_payment_error: PAYMENT_ERROR, latest_charge: ref(CHARGE_FAILURE), payment_method: ref() }),
  last_payment_error: PAYMENT_ERROR,
} as const satisfies Fields;

/** What is read of `data.previous_attributes`: whose a detached payment method was. */
export const PREVIOUS_ATTRIBUTE_FIELDS = { customer: ref() } as const satisfies Fields;

/** Longer strings are cut and marked: a cut id can then never pass for a real (shorter) one. */
export const DIGEST_STRING_MAX_LENGTH = STRIPE_ID_MAX_LENGTH;

/** The shape of a digest is the event's: every reader of events reads digests unchanged. */
export type EventDigest = StripeEventLike;

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null;
const cap = (text: string): string => (text.length > DIGEST_STRING_MAX_LENGTH ? `${text.slice(0, DIGEST_STRING_MAX_LENGTH)}…` : text);

function keep(value: unknown, field: Field): unknown {
  if (value === null) return null;
  if (field === STRING) return typeof value === 'string' ? cap(value) : undefined;
  if (field === NUMBER) return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
  if (field instanceof Ref) return typeof value === 'string' ? cap(value) : isObject(value) ? pick(value, field.expanded) : undefined;
  return isObject(value) ? pick(value, field) : undefined;
}

/** Own fields only, listed ones only: nothing inherited, nothing the lists do not name. */
function pick(source: Json, fields: Fields): Json {
  const out: Json = {};
  for (const [name, field] of Object.entries(fields)) {
    if (!Object.hasOwn(source, name)) continue;
    const value = keep(source[name], field);
    if (value !== undefined) out[name] = value;
  }
  return out;
}

export function digestEvent(event: StripeEventLike): EventDigest {
  const data = event.data as { object?: unknown; previous_attributes?: unknown } | undefined;
  const previous = isObject(data?.previous_attributes) ? pick(data.previous_attributes, PREVIOUS_ATTRIBUTE_FIELDS) : undefined;
  return {
    id: cap(String(event.id)),
    object: 'event',
    type: cap(String(event.type)),
    api_version: typeof event.api_version === 'string' ? cap(event.api_version) : null,
    created: event.created,
    livemode: event.livemode === true,
    data: {
      object: (isObject(data?.object) ? pick(data.object, EVENT_OBJECT_FIELDS) : {}) as unknown as StripeEventObjectLike,
      ...(previous ? { previous_attributes: previous } : {}),
    },
  };
}
