/**
 * Update-card link tokens: `v1.<customer, base64url>.<expiry, unix seconds>.<HMAC-SHA256, base64url>`.
 * The MAC covers a purpose label, the customer and the expiry, so a token cannot be forged, stretched, or
 * moved to another customer or another use. Each token has exactly one spelling: unpadded base64url with
 * zero trailing bits, seconds without leading zeros. Decoders forgive other spellings of the same bytes,
 * so verification re-encodes what it decoded and refuses any other (a token is then one string, fit to
 * key a cache or a throttle by, and nobody can mint look-alikes of a link they saw). Pure computation
 * (node:crypto), no I/O.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { isCustomerId } from './stripe-ids.js';

const VERSION = 'v1';
const PURPOSE = 'subgate-update-card';

export type TokenCheck =
  | { ok: true; customerId: string; expiresAt: number }
  | { ok: false; reason: 'malformed' | 'forged' | 'expired' };

function mac(secret: string, customerId: string, expiresAtSeconds: number): Buffer {
  return createHmac('sha256', secret).update(`${PURPOSE}|${VERSION}|${customerId}|${expiresAtSeconds}`, 'utf8').digest();
}

const encode = (customerId: string): string => Buffer.from(customerId, 'utf8').toString('base64url');

/** A token for `customerId`, valid until `expiresAt` (ms; rounded down to the second). */
export function signLinkToken(customerId: string, expiresAt: number, secret: string): string {
  const seconds = Math.floor(expiresAt / 1000);
  return `${VERSION}.${encode(customerId)}.${seconds}.${mac(secret, customerId, seconds).toString('base64url')}`;
}

/** Checks a token at `now` (ms). The MAC is checked before the expiry, so a forged token never reads as merely expired. */
export function verifyLinkToken(token: unknown, secret: string, now: number): TokenCheck {
  if (typeof token !== 'string' || token.length > 1024) return { ok: false, reason: 'malformed' };
  const parts = token.split('.');
  if (parts.length !== 4 || parts[0] !== VERSION) return { ok: false, reason: 'malformed' };
  const [, customerPart = '', secondsPart = '', macPart = ''] = parts;
  if (!/^[1-9]\d{0,11}$/.test(secondsPart) || !/^[A-Za-z0-9_-]{43}$/.test(macPart)) return { ok: false, reason: 'malformed' };
  const customerId = Buffer.from(customerPart, 'base64url').toString('utf8');
  if (!isCustomerId(customerId) || encode(customerId) !== customerPart) return { ok: false, reason: 'malformed' };
  const presented = Buffer.from(macPart, 'base64url');
  if (presented.toString('base64url') !== macPart) return { ok: false, reason: 'malformed' };
  const seconds = Number(secondsPart);
  const expected = mac(secret, customerId, seconds);
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) return { ok: false, reason: 'forged' };
  const expiresAt = seconds * 1000;
  if (now >= expiresAt) return { ok: false, reason: 'expired' };
  return { ok: true, customerId, expiresAt };
}
