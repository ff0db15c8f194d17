/**
 * Bearer-token checks in constant time. Tokens are compared as SHA-256 digests so lengths never leak,
 * and every configured token is compared on every call (no early exit on a match). A match yields the
 * token's principal: its name (what logs and metrics carry; never the token) and its scopes.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ALL_TOKEN_SCOPES, type ApiToken, type TokenScope } from '../config.js';
import { AuthError, ForbiddenError } from './errors.js';

export type { ApiToken, TokenScope };

export interface TokenPrincipal {
  readonly name: string;
  readonly scopes: ReadonlySet<TokenScope>;
}

/** The principal of the presented token, or null when the header carries none of the configured ones. */
export type TokenCheck = (authorizationHeader: string | undefined) => TokenPrincipal | null;

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * Normalises what callers configure: an ApiToken as config.ts parses it, or a bare token string, which
 * (as in ENTITLEMENT_API_TOKENS) means every scope; bare tokens are named by position.
 */
export function toApiTokens(tokens: readonly (ApiToken | string)[], namePrefix = 'token'): ApiToken[] {
  return tokens.map((entry, index) =>
    typeof entry === 'string' ? { name: `${namePrefix}-${index + 1}`, scopes: ALL_TOKEN_SCOPES, token: entry } : entry,
  );
}

export function createTokenCheck(tokens: readonly (ApiToken | string)[]): TokenCheck {
  const known = toApiTokens(tokens).map((entry) => ({
    digest: digest(entry.token),
    principal: Object.freeze({ name: entry.name, scopes: new Set(entry.scopes) }) as TokenPrincipal,
  }));
  return (header) => {
    if (!header || header.length > 4096) return null;
    const match = /^Bearer[ ]+([^\s]+)[ ]*$/i.exec(header);
    if (!match?.[1]) return null;
    const presented = digest(match[1]);
    let found: TokenPrincipal | null = null;
    for (const candidate of known) {
      if (timingSafeEqual(candidate.digest, presented) && found === null) found = candidate.principal;
    }
    return found;
  };
}

/**
 * The principal if its scopes include one of `anyOf`. No principal (no configured token) is a 401; a known
 * token without the scope is a 403 that says what it would need, so a misconfigured caller can tell.
 */
export function requireScope(principal: TokenPrincipal | null, anyOf: readonly TokenScope[], action: string): TokenPrincipal {
  if (!principal) throw new AuthError();
  for (const scope of anyOf) if (principal.scopes.has(scope)) return principal;
  throw new ForbiddenError(`This token may not ${action}: it needs the ${anyOf.join(' or ')} scope.`);
}
