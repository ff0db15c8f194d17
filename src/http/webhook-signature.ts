/**
 * Verifies a Stripe webhook at the edge: the SDK's constructEvent against every configured secret
 * (rotation keeps two alive), a 300 s tolerance on both sides (the SDK only checks the past), and a
 * shape check of the parsed event. Every failure, including the plain Errors the SDK throws for some
 * crafted headers, becomes a ValidationError whose message never echoes the header or the body.
 */
import Stripe from 'stripe';
import type { StripeEventLike } from '../domain/stripe-shapes.js';
import { isEventId } from '../domain/stripe-ids.js';
import { ValidationError } from './errors.js';

export const SIGNATURE_TOLERANCE_SECONDS = 300;

export interface VerifyInput {
  rawBody: Buffer;
  signatureHeader: string | undefined;
  secrets: readonly string[];
  /** ms */
  now: number;
}

/**
 * The one `t=` of a Stripe-Signature header, split as the SDK splits it (on `,`, then `=`, keys taken as
 * they are), so the future check below and the SDK's HMAC look at the same number. The SDK keeps the
 * last `t=` it sees and parses it leniently; a header with two (or a ` t=` the SDK would skip, or a value
 * that is not plain digits) could make them disagree, so it has none we accept: null.
 */
function signedTimestamp(header: string): number | null {
  let timestamp: number | null = null;
  let seen = 0;
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    const key = eq === -1 ? part : part.slice(0, eq);
    if (key.trim() !== 't') continue;
    seen += 1;
    const value = part.slice(eq + 1);
    if (key !== 't' || eq === -1 || !/^\d{1,12}$/.test(value)) return null;
    timestamp = Number(value);
  }
  return seen === 1 ? timestamp : null;
}

function isEventShaped(value: unknown): value is StripeEventLike {
  if (typeof value !== 'object' || value === null) return false;
  const event = value as Record<string, unknown>;
  const data = event.data as Record<string, unknown> | undefined;
  return (
    event.object === 'event' &&
    isEventId(event.id) &&
    typeof event.type === 'string' &&
    event.type.length > 0 &&
    event.type.length <= 200 &&
    typeof event.created === 'number' &&
    typeof data === 'object' &&
    data !== null &&
    typeof data.object === 'object' &&
    data.object !== null
  );
}

/** The cheap first refusal: no Stripe-Signature header, no need to look at anything else. */
export function requireSignatureHeader(header: string | undefined): asserts header is string {
  if (!header || header.trim() === '') throw new ValidationError('missing_signature', 'The Stripe-Signature header is missing.');
}

export function verifyStripeWebhook(input: VerifyInput): StripeEventLike {
  const { rawBody, signatureHeader, secrets, now } = input;
  requireSignatureHeader(signatureHeader);
  if (rawBody.length === 0) throw new ValidationError('empty_body', 'The request body is empty.');

  const timestamp = signedTimestamp(signatureHeader);
  if (timestamp === null) throw new ValidationError('invalid_signature', 'The Stripe-Signature header must carry exactly one valid timestamp (t=).');
  if (timestamp * 1000 - now > SIGNATURE_TOLERANCE_SECONDS * 1000) {
    throw new ValidationError('timestamp_out_of_tolerance', 'The signature timestamp is too far in the future.');
  }

  let verified = false;
  let parseFailed = false;
  let event: unknown;
  for (const secret of secrets) {
    try {
      event = Stripe.webhooks.constructEvent(rawBody, signatureHeader, secret, SIGNATURE_TOLERANCE_SECONDS, undefined, now);
      verified = true;
      break;
    } catch (err) {
      // constructEvent verifies, then JSON.parses: a SyntaxError means the signature held.
      if (err instanceof SyntaxError) {
        parseFailed = true;
        break;
      }
      if (err instanceof Error && /tolerance/i.test(err.message)) {
        // The header is genuine but old for this secret; another secret can't make it younger.
        throw new ValidationError('timestamp_out_of_tolerance', 'The signature timestamp is outside the tolerance.');
      }
    }
  }
  if (parseFailed) throw new ValidationError('malformed_payload', 'The signed body is not valid JSON.');
  if (!verified) throw new ValidationError('invalid_signature', 'No signature matches any configured webhook secret.');
  if (!isEventShaped(event)) throw new ValidationError('malformed_event', 'The signed body is not a Stripe event.');
  return event;
}
