/**
 * Reader notices as pure data: what a notice is about, the key that makes it happen exactly once, and its
 * text and HTML bodies rendered from the templates in notice-templates.ts. No transport, no I/O.
 */
import { DAY_MS, cardExpiresAt } from './card-expiry.js';
import type { CardSnapshot } from './projection.js';
import { NOTICE_TEMPLATES, renderTemplate, type TemplateValues } from './notice-templates.js';

export type NoticeKind = 'card_expiring' | 'card_expired' | 'payment_failed' | 'access_restored';

export interface NoticeRequest {
  kind: NoticeKind;
  customerId: string;
  card: CardSnapshot;
  /**
   * What tells apart repeated notices of one kind for one card at one expiry: the window ('30d') for
   * card_expiring, the invoice for payment_failed, the entitlement version for access_restored, '' else.
   */
  window: string;
  /** ms */
  requestedAt: number;
}

/** Exactly one notice per (customer, card, expiry, kind, window). No ':' so it can be a BullMQ job id. */
export function noticeKey(request: Pick<NoticeRequest, 'kind' | 'customerId' | 'card' | 'window'>): string {
  const { card } = request;
  const expiry = `${card.exp_year}-${String(card.exp_month).padStart(2, '0')}`;
  return [request.customerId, card.id, expiry, request.kind, request.window].join('|').replace(/[^A-Za-z0-9_|.-]/g, '_');
}

export interface NoticeContext {
  publisherName: string;
  supportEmail: string;
  /** Signed update-card link, or null when none can be made (no LINK_SIGNING_SECRET). */
  updateCardUrl: string | null;
  /** ms */
  now: number;
}

export interface NoticeContent {
  subject: string;
  text: string;
  html: string;
}

const BRAND_NAMES: Readonly<Record<string, string>> = {
  visa: 'Visa',
  mastercard: 'Mastercard',
  amex: 'American Express',
  discover: 'Discover',
  diners: 'Diners Club',
  jcb: 'JCB',
  unionpay: 'UnionPay',
  cartes_bancaires: 'Cartes Bancaires',
  eftpos_au: 'eftpos',
};

export function displayBrand(brand: string): string {
  return BRAND_NAMES[brand] ?? (brand === '' || brand === 'unknown' ? 'Card' : brand.charAt(0).toUpperCase() + brand.slice(1));
}

/** Renders a notice. The link paragraph is left out when there is no link. */
export function renderNotice(request: NoticeRequest, context: NoticeContext): NoticeContent {
  const { card } = request;
  const expiresAt = cardExpiresAt(card.exp_month, card.exp_year);
  const daysLeft = Math.max(0, Math.ceil((expiresAt - context.now) / DAY_MS));
  const values: TemplateValues = {
    publisher: context.publisherName,
    support: context.supportEmail,
    brand: displayBrand(card.brand),
    last4: card.last4,
    expiry: `${String(card.exp_month).padStart(2, '0')}/${card.exp_year}`,
    days: daysLeft === 1 ? '1 day' : `${daysLeft} days`,
    link: context.updateCardUrl ?? '',
  };
  const template = NOTICE_TEMPLATES[request.kind];
  return renderTemplate(template, values, context.updateCardUrl !== null);
}
