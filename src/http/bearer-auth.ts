/**
 * Bearer-token checks in constant time. Tokens are compared as SHA-256 digests so lengths never leak,
 * and every configured token is compared on every call (no early exit on a match).
 */
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

export type TokenCheck = (authorizationHeader: string | undefined) => boolean;

export function createTokenCheck(tokens: readonly string[]): TokenCheck {
  const digests = tokens.map(digest);
  return (header) => {
    if (!header || header.length > 4096) return false;
    const match = /^Bearer[ ]+([^\s]+)[ ]*$/i.exec(header);
    if (!match?.[1]) return false;
    const presented = digest(match[1]);
    let ok = false;
    for (const candidate of digests) ok = timingSafeEqual(candidate, presented) || ok;
    return ok;
  };
}
