/**
 * Verifies a Stripe webhook at the edge: the SDK's constructEvent against every configured secret
 * (rotation keeps two alive), a 300 s tolerance on both sides (the SDK only checks the past), and a
 * shape check of the parsed event. Every failure, including the plain Errors the SDK throws for some
 * crafted headers, becomes a ValidationError whose message never echoes the header or the body.
 */
import Stripe from 'stripe';
import type { StripeEventLike } from '../domain/stripe-shapes.js';
import { ValidationError } from './errors.js';

export const SIGNATURE_TOLERANCE_SECONDS = 300;

export interface VerifyInput {
  rawBody: Buffer;
  signatureHeader: string | undefined;
  secrets: readonly string[];
  /** ms */
  now: number;
}

/** The `t=` of a Stripe-Signature header, or null when there is none that parses. */
function signedTimestamp(header: string): number | null {
  for (const part of header.split(',')) {
    const [key, value] = part.split('=', 2);
    if (key?.trim() === 't' && value !== undefined && /^\d{1,12}$/.test(value.trim())) return Number(value.trim());
  }
  return null;
}

function isEventShaped(value: unknown): value is StripeEventLike {
  if (typeof value !== 'object' || value === null) return false;
  const event = value as Record<string, unknown>;
  const data = event.data as Record<string, unknown> | undefined;
  return (
    event.object === 'event' &&
    typeof event.id === 'string' &&
    /^evt_[A-Za-z0-9_]{1,250}$/.test(event.id) &&
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

export function verifyStripeWebhook(input: VerifyInput): StripeEventLike {
  const { rawBody, signatureHeader, secrets, now } = input;
  if (!signatureHeader || signatureHeader.trim() === '') {
    throw new ValidationError('missing_signature', 'The Stripe-Signature header is missing.');
  }
  if (rawBody.length === 0) throw new ValidationError('empty_body', 'The request body is empty.');

  const timestamp = signedTimestamp(signatureHeader);
  if (timestamp === null) throw new ValidationError('invalid_signature', 'The Stripe-Signature header has no valid timestamp.');
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
