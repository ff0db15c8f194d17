/**
 * An e-mail address shown to an operator (admin views, development logs): enough to recognise whose it
 * is, not enough to harvest.
 */

/** `reader@example.com` -> `r***@example.com`; anything without a local part -> `***`. */
export function maskEmail(email: string | null): string | null {
  if (!email) return null;
  const at = email.lastIndexOf('@');
  return at <= 0 ? '***' : `${email[0]}***${email.slice(at)}`;
}
