/**
 * Reader notices as pure data: what a notice is about, the key that makes it happen exactly once, and its
 * text and HTML bodies rendered from the templates in notice-templates.ts. No transport, no I/O.
 */
import { DAY_MS, cardExpiresAt } from './card-expiry.js';
import type { CardSnapshot, CustomerProjection } from './projection.js';
import { NOTICE_TEMPLATES, PRODUCTS_AT_RISK, renderTemplate, type NoticeTemplate, type TemplateValues } from './notice-templates.js';

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
  /** Names of the products a card problem puts at risk (productsAtRisk); empty or absent: none named. */
  products?: readonly string[];
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
    products: listNames(context.products ?? []),
  };
  const base: NoticeTemplate = NOTICE_TEMPLATES[request.kind];
  const named = (context.products?.length ?? 0) > 0 && request.kind !== 'access_restored';
  const template = named ? { ...base, body: [base.body[0]!, PRODUCTS_AT_RISK, ...base.body.slice(1)] } : base;
  return renderTemplate(template, values, context.updateCardUrl !== null);
}

/** Live subscription statuses a card problem can end. */
const AT_RISK_STATUSES = new Set(['active', 'trialing', 'past_due', 'unpaid']);

/**
 * The names of the products that the subscriptions this card pays sell, as the snapshot's product catalog
 * names them, in the order the subscriptions list them; unnamed products are left out.
 */
export function productsAtRisk(projection: CustomerProjection | null, cardId: string): string[] {
  if (projection === null || !projection.products) return [];
  const names: string[] = [];
  for (const subscription of projection.subscriptions) {
    if (subscription.card?.id !== cardId || !AT_RISK_STATUSES.has(subscription.status)) continue;
    for (const item of subscription.items ?? []) {
      const name = item.product === null ? null : (projection.products[item.product]?.name ?? null);
      if (name !== null && !names.includes(name)) names.push(name);
    }
  }
  return names;
}

/** "News", "News and Cooking", "News, Puzzles and Cooking". */
function listNames(names: readonly string[]): string {
  if (names.length <= 1) return names[0] ?? '';
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}
