/**
 * The card-expiry schedule as pure decisions: which cards of a customer are worth watching, which delayed
 * jobs to set for one of them (notice windows, the expiry instant, the end of the grace), and, when a job
 * finally runs, whether it still has anything to do. Job ids are derived from the card and its expiry, so
 * scheduling the same card twice never makes two jobs, and a new card or a new expiry makes new ones.
 */
import { DAY_MS, tryCardExpiresAt } from './card-expiry.js';
import { effectiveExpiry, isFlagged, isHonoured } from './card-marks.js';
import type { CardExpiryMark, CardSnapshot, CustomerProjection, SubscriptionSnapshot, SubscriptionStatus } from './projection.js';

/** Subscriptions whose card still gets charged: only these make a card worth a notice or a flag. */
const BILLED_STATUSES: ReadonlySet<SubscriptionStatus> = new Set(['active', 'trialing', 'past_due']);

export interface BilledCard extends CardSnapshot {
  /** ms; the printed expiry instant. */
  expiresAt: number;
}

/** The distinct cards that pay this customer's live subscriptions, earliest expiry first. */
export function billedCards(projection: CustomerProjection | null): BilledCard[] {
  if (projection === null || projection.deleted) return [];
  const byKey = new Map<string, BilledCard>();
  for (const subscription of projection.subscriptions) {
    const card = subscription.card;
    if (card === null || !BILLED_STATUSES.has(subscription.status)) continue;
    const expiresAt = tryCardExpiresAt(card.exp_month, card.exp_year);
    if (expiresAt === null) continue;
    byKey.set(`${card.id}|${expiresAt}`, { ...card, expiresAt });
  }
  return [...byKey.values()].sort((a, b) => a.expiresAt - b.expiresAt || (a.id < b.id ? -1 : 1));
}

/** The score of this customer in the expiry index (the earliest billed card's expiry), or null to leave it out. */
export function expiryIndexScore(projection: CustomerProjection): number | null {
  return billedCards(projection)[0]?.expiresAt ?? null;
}

/** The card identity a job carries, enough to tell whether it is still the card being billed. */
export interface CardAtExpiry {
  customerId: string;
  cardId: string;
  exp_month: number;
  exp_year: number;
}

export type ExpiryJobKind = 'notice' | 'expire' | 'grace_end';

export interface PlannedExpiryJob {
  kind: ExpiryJobKind;
  /** Days before expiry, for notices; null otherwise. */
  windowDays: number | null;
  /** ms; when it should run (now, for a window already open). */
  runAt: number;
  jobId: string;
}

export interface PlanInput {
  customerId: string;
  card: BilledCard;
  noticeDays: readonly number[];
  graceDays: number;
  now: number;
}

/**
 * The jobs for one card. Windows not yet open run at their instant. Of the windows already open, only the
 * nearest one (fewest days left) runs, at once: a reader whose card expires in 5 days hears "7 days", not
 * "30 days" and then "7 days". A card already expired gets its expiry check at once and no "expiring" notice.
 */
export function planExpiryJobs(input: PlanInput): PlannedExpiryJob[] {
  const { card, now } = input;
  const base = `${input.customerId}-${card.id}-${card.expiresAt}`;
  const jobs: PlannedExpiryJob[] = [];
  if (card.expiresAt > now) {
    const nearestOpen = nearestOpenWindow(card.expiresAt, input.noticeDays, now);
    for (const days of new Set(input.noticeDays)) {
      const opensAt = card.expiresAt - days * DAY_MS;
      if (opensAt > now || days === nearestOpen) {
        jobs.push({ kind: 'notice', windowDays: days, runAt: Math.max(opensAt, now), jobId: `notice-${base}-${days}d` });
      }
    }
  }
  jobs.push({ kind: 'expire', windowDays: null, runAt: Math.max(card.expiresAt, now), jobId: `expire-${base}` });
  const graceEnd = card.expiresAt + input.graceDays * DAY_MS;
  if (input.graceDays > 0 && graceEnd > now) {
    jobs.push({ kind: 'grace_end', windowDays: null, runAt: graceEnd, jobId: `grace-${base}` });
  }
  return jobs.sort((a, b) => a.runAt - b.runAt);
}

/**
 * When a past_due subscription's payment grace runs out the answer changes with no event from Stripe:
 * one job per subscription and failure start re-evaluates and publishes it then. Deterministic ids, so
 * planning again after every refresh adds nothing.
 */
export function planPastDueGraceEnds(input: {
  customerId: string;
  subscriptions: readonly SubscriptionSnapshot[];
  pastDueGraceDays: number;
  now: number;
}): Array<{ subscriptionId: string; runAt: number; jobId: string }> {
  return input.subscriptions.flatMap((sub) => {
    if (sub.status !== 'past_due' || sub.past_due_since === null) return [];
    const runAt = sub.past_due_since + input.pastDueGraceDays * DAY_MS;
    const jobId = `pastdue-${input.customerId}-${sub.id}-${sub.past_due_since}`;
    return runAt > input.now ? [{ subscriptionId: sub.id, runAt, jobId }] : [];
  });
}

/** The open window with the fewest days left at `now`, or null when none is open (or the card has expired). */
export function nearestOpenWindow(expiresAt: number, noticeDays: readonly number[], now: number): number | null {
  if (now >= expiresAt) return null;
  const open = noticeDays.filter((days) => expiresAt - days * DAY_MS <= now);
  return open.length === 0 ? null : Math.min(...open);
}

/** The billed card a job is about, if it is still billed at the same expiry; null when replaced or changed. */
export function currentCard(projection: CustomerProjection | null, job: CardAtExpiry): BilledCard | null {
  return (
    billedCards(projection).find(
      (card) => card.id === job.cardId && card.exp_month === job.exp_month && card.exp_year === job.exp_year,
    ) ?? null
  );
}

export type NoticeWindowDecision =
  | { action: 'send'; card: BilledCard }
  | { action: 'skip'; reason: 'card_changed' | 'expired_already' | 'nearer_window_open' }
  /** The job ran before its instant (clocks of two hosts disagree): run it again at `until`. */
  | { action: 'wait'; until: number };

/**
 * A notice window's job runs: send only if the card is still the one billed, still at that expiry, not yet
 * expired, and no nearer window has opened meanwhile (a job delayed by an outage must not send "30 days"
 * when "7 days" is due).
 */
export function decideNoticeWindow(
  projection: CustomerProjection | null,
  job: CardAtExpiry & { windowDays: number },
  noticeDays: readonly number[],
  now: number,
): NoticeWindowDecision {
  const card = currentCard(projection, job);
  if (card === null) return { action: 'skip', reason: 'card_changed' };
  if (now >= card.expiresAt) return { action: 'skip', reason: 'expired_already' };
  const opensAt = card.expiresAt - job.windowDays * DAY_MS;
  if (now < opensAt) return { action: 'wait', until: opensAt };
  const nearest = nearestOpenWindow(card.expiresAt, [...new Set([...noticeDays, job.windowDays])], now);
  if (nearest !== job.windowDays) return { action: 'skip', reason: 'nearer_window_open' };
  return { action: 'send', card };
}

export type ExpireDecision =
  | { action: 'flag'; card: BilledCard }
  | { action: 'skip'; reason: 'card_changed' | 'already_flagged' | 'honoured' }
  /** Not expired yet (the job ran early): run it again at `until`. */
  | { action: 'wait'; until: number };

/** The expiry instant's job (or the sweep) runs: flag the card if it is still billed, due and unflagged. */
export function decideExpire(projection: CustomerProjection | null, job: CardAtExpiry, now: number): ExpireDecision {
  const card = currentCard(projection, job);
  if (card === null) return { action: 'skip', reason: 'card_changed' };
  const marks = projection?.expiry_marks;
  if (isHonoured(card, marks)) return { action: 'skip', reason: 'honoured' };
  if (isFlagged(card, marks)) return { action: 'skip', reason: 'already_flagged' };
  if (now < card.expiresAt) return { action: 'wait', until: card.expiresAt };
  return { action: 'flag', card };
}

/** What the sweep should flag for one customer from the index: every billed card due, unflagged, not honoured. */
export function cardsToFlag(projection: CustomerProjection | null, now: number): BilledCard[] {
  return billedCards(projection).filter((card) => {
    const decision = decideExpire(projection, { customerId: '', cardId: card.id, exp_month: card.exp_month, exp_year: card.exp_year }, now);
    return decision.action === 'flag';
  });
}

/**
 * Which billed cards an invoice paid at `paidAt` proves still pay: those whose (effective) expiry had
 * passed when it was paid. `subscriptionId`, when known, narrows it to the card of that subscription.
 */
export function cardsProvenByPayment(
  projection: CustomerProjection | null,
  paidAt: number,
  subscriptionId: string | null,
): BilledCard[] {
  if (projection === null) return [];
  const marks: readonly CardExpiryMark[] | undefined = projection.expiry_marks;
  const scope = subscriptionId === null ? null : projection.subscriptions.find((s) => s.id === subscriptionId)?.card ?? null;
  return billedCards(projection).filter((card) => {
    if (subscriptionId !== null && (scope === null || scope.id !== card.id)) return false;
    const expiry = effectiveExpiry(card, marks);
    return expiry !== null && expiry <= paidAt;
  });
}

/** What a decline says of the declined card: its id and expiry, where the payload or the charge carried them. */
export interface DeclinedCard {
  cardId: string | null;
  exp_month: number | null;
  exp_year: number | null;
}

/**
 * The card an issuer's `expired_card` decline is about, to flag: the declined card as the projection knows
 * it, at the expiry the decline reports (the issuer's word wins over a stale stored date); the first
 * subscription's card when the decline names none; a card the projection does not know yet, from the
 * decline alone, when it names an id and a readable expiry; else null (nothing safe to flag).
 */
export function cardForDecline(projection: CustomerProjection, decline: DeclinedCard): CardSnapshot | null {
  const known = [projection.default_card, ...projection.subscriptions.map((s) => s.card)].filter((c): c is CardSnapshot => c !== null);
  const base = decline.cardId === null ? (projection.subscriptions[0]?.card ?? projection.default_card) : known.find((c) => c.id === decline.cardId);
  if (base) return { ...base, exp_month: decline.exp_month ?? base.exp_month, exp_year: decline.exp_year ?? base.exp_year };
  const { cardId, exp_month, exp_year } = decline;
  if (cardId === null || exp_month === null || exp_year === null || tryCardExpiresAt(exp_month, exp_year) === null) return null;
  return { id: cardId, brand: 'unknown', last4: '', exp_month, exp_year };
}

/**
 * The card a "payment did not go through" notice names: the declined card when a subscription bills it,
 * else the card of a past_due subscription, else the customer's default; null when none is known.
 */
export function cardForPaymentFailure(projection: CustomerProjection | null, declinedCardId: string | null): CardSnapshot | null {
  if (projection === null) return null;
  const declined = declinedCardId === null ? null : projection.subscriptions.find((s) => s.card?.id === declinedCardId)?.card;
  return declined ?? projection.subscriptions.find((s) => s.status === 'past_due')?.card ?? projection.default_card ?? null;
}
