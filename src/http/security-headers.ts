/**
 * The headers that tell a browser what it may do with what subgate sends, in one place. Every response
 * says `nosniff` (a JSON error must never be run as a script or rendered as HTML). HTML may never be
 * framed (clickjacking of the update-card flow or the admin board). subgate's own pages run no script and
 * load nothing: their one <style> element is allowed by its hash. Bull Board gets what its UI needs.
 */
import { createHash } from 'node:crypto';
import type { RequestHandler } from 'express';

export type HeaderSet = Readonly<Record<string, string>>;

/** On every response, the entitlement fast path included (a constant: one setHeader, nothing computed). */
export const NOSNIFF = { name: 'X-Content-Type-Options', value: 'nosniff' } as const;

const policy = (directives: Record<string, string>): string =>
  Object.entries(directives)
    .map(([name, value]) => `${name} ${value}`)
    .join('; ');

const NO_FRAMING = { 'frame-ancestors': "'none'" };

const styleHash = (css: string): string => `'sha256-${createHash('sha256').update(css, 'utf8').digest('base64')}'`;

/**
 * For an HTML page of subgate's own whose only styling is the given <style> element contents (exactly
 * as they sit between the tags): no script, no image, no font, no <base>, no frame, and no form unless
 * `forms: 'self'` (the admin pages, whose forms post back to this origin only).
 */
export function ownPageHeaders(inlineStyles: readonly string[], options: { forms?: 'none' | 'self' } = {}): HeaderSet {
  return Object.freeze({
    'Content-Security-Policy': policy({
      'default-src': "'none'",
      'style-src': inlineStyles.map(styleHash).join(' ') || "'none'",
      'base-uri': "'none'",
      'form-action': options.forms === 'self' ? "'self'" : "'none'",
      ...NO_FRAMING,
    }),
    'X-Frame-Options': 'DENY',
  });
}

/**
 * Bull Board's UI: scripts, styles, images, locale files and API calls from its own path; the Google
 * Fonts stylesheet its page links; inline styles, which its HTML and its React components set (its
 * markup is not ours to hash); its <base href>. No script from anywhere else, no frame.
 */
export const BULL_BOARD_HEADERS: HeaderSet = Object.freeze({
  'Content-Security-Policy': policy({
    'default-src': "'none'",
    'script-src': "'self'",
    'style-src': "'self' 'unsafe-inline' https://fonts.googleapis.com",
    'font-src': "'self' https://fonts.gstatic.com",
    'img-src': "'self' data:",
    'connect-src': "'self'",
    'base-uri': "'self'",
    'form-action': "'self'",
    ...NO_FRAMING,
  }),
  'X-Frame-Options': 'DENY',
});

/** Sets a header set on every response below where it is mounted. */
export function withHeaders(headers: HeaderSet): RequestHandler {
  const entries = Object.entries(headers);
  return (_req, res, next) => {
    for (const [name, value] of entries) res.setHeader(name, value);
    next();
  };
}
