/**
 * What the card-expiry jobs do, one method per job: a notice window opens, a card reaches its expiry
 * instant, a card grace ends, and an event signalled something about a card. Every method re-reads the
 * projection first and does nothing when the card it was scheduled for is no longer the one billed.
 * Before flagging at the expiry instant it re-reads the card from Stripe: the networks' updater refreshes
 * most expiring cards, and its webhook may not have arrived yet.
 */
import type { Logger } from '../logger.js';
import type { CardSnapshot, Clock, FlagSource } from '../domain/projection.js';
import { cardFromPaymentSource } from '../domain/stripe-projection.js';
import { cardForDecline, cardForPaymentFailure, cardsProvenByPayment, decideExpire, decideNoticeWindow } from '../domain/expiry-plan.js';
import { tryCardExpiresAt } from '../domain/card-expiry.js';
import type { ExpirySignal } from '../domain/expiry-signals.js';
import { chargeFailure, combineFailures, invoicePaymentFailure, type PaymentFailure } from '../domain/stripe-moved-fields.js';
import type { SubscriberStore } from '../store/subscriber-store.js';
import { isStripeMissing } from '../adapters/stripe-gateway.js';
import type { StripeBilling } from '../adapters/stripe-billing.js';
import type { EntitlementWatch } from '../sync/entitlement-watch.js';
import type { CardJobData, Producers } from '../queues.js';
import type { ExpiryScheduler } from './expiry-scheduler.js';

export interface CardExpiryServiceDeps {
  store: SubscriberStore;
  billing: Pick<StripeBilling, 'fetchCard' | 'fetchCharge' | 'fetchInvoicePayments'>;
  scheduler: ExpiryScheduler;
  watch: EntitlementWatch;
  producers: Pick<Producers, 'notice' | 'refresh'>;
  clock: Clock;
  noticeDays: readonly number[];
  logger: Logger;
}

export type ExpiryJobResult = {
  outcome: string;
  /** ms from now: the job ran before its instant and should run again then. */
  retryInMs?: number;
  [detail: string]: unknown;
};

/** The customer has no projection yet (the refresh the same event asked for has not landed): retry. */
export class NotProjectedYetError extends Error {
  constructor(customerId: string) {
    super(`customer ${customerId} has no projection yet`);
    this.name = 'NotProjectedYetError';
  }
}

export interface CardExpiryService {
  runNoticeWindow(data: CardJobData): Promise<ExpiryJobResult>;
  runExpiryCheck(data: CardJobData): Promise<ExpiryJobResult>;
  runGraceEnd(data: { customerId: string }): Promise<ExpiryJobResult>;
  applySignal(signal: ExpirySignal): Promise<ExpiryJobResult>;
}

export function createCardExpiryService(deps: CardExpiryServiceDeps): CardExpiryService {
  const log = deps.logger.child({ component: 'card-expiry' });

  /** Raises the flag once; the first raiser publishes the entitlement and queues the card_expired notice. */
  async function flag(customerId: string, card: CardSnapshot, at: number, source: FlagSource): Promise<ExpiryJobResult> {
    const result = await deps.store.raiseExpiryFlag(customerId, card, at, source);
    if (result === 'missing') throw new NotProjectedYetError(customerId);
    if (result !== 'raised') return { outcome: result };
    log.info({ customerId, cardId: card.id, source }, 'card flagged expired');
    await deps.watch.refresh(customerId);
    await deps.producers.notice({ kind: 'card_expired', customerId, card, window: '', requestedAt: deps.clock.now() });
    return { outcome: 'flagged', source };
  }

  async function runExpiryCheck(data: CardJobData): Promise<ExpiryJobResult> {
    const source: FlagSource = data.via ?? 'schedule';
    const now = deps.clock.now();
    const decision = decideExpire(await deps.store.read(data.customerId), data, now);
    if (decision.action === 'skip') return { outcome: decision.reason };
    if (decision.action === 'wait') return { outcome: 'early', retryInMs: decision.until - now };

    let fresh: CardSnapshot | null = null;
    try {
      const fetched = await deps.billing.fetchCard(data.customerId, data.cardId);
      fresh = fetched.customerId === data.customerId ? cardFromPaymentSource(fetched.source) : null;
    } catch (err) {
      if (!isStripeMissing(err)) throw err;
    }
    if (fresh === null) {
      await deps.producers.refresh(data.customerId, 'card-gone-at-expiry', 'access');
      return { outcome: 'card_gone' };
    }
    if (fresh.exp_month !== data.exp_month || fresh.exp_year !== data.exp_year) {
      // The updater gave it a new expiry: the refresh brings it in and plans the new expiry's jobs.
      await deps.producers.refresh(data.customerId, 'card-updated-at-expiry', 'access');
      return { outcome: 'card_updated' };
    }
    return flag(data.customerId, decision.card, deps.clock.now(), source);
  }

  /** An issuer said expired_card: flag the card now, at the decline's instant. */
  async function flagDeclined(
    customerId: string,
    cardId: string | null,
    exp: { exp_month: number | null; exp_year: number | null },
    at: number,
  ): Promise<ExpiryJobResult> {
    const projection = await deps.store.read(customerId);
    if (projection === null) throw new NotProjectedYetError(customerId);
    const card = cardForDecline(projection, { cardId, ...exp });
    if (card === null) return { outcome: 'card_unknown' };
    return flag(customerId, card, at, 'decline');
  }

  const signalHandlers: { [K in ExpirySignal['kind']]: (signal: Extract<ExpirySignal, { kind: K }>) => Promise<ExpiryJobResult> } = {
    expired_decline: (signal) => flagDeclined(signal.customerId, signal.cardId, signal, signal.at),

    async invoice_payment_failed(signal) {
      const failure = await declineOfInvoice(signal, deps.billing);
      if (failure.declineCode === 'expired_card') return flagDeclined(signal.customerId, failure.cardId, failure, signal.at);

      const card = cardForPaymentFailure(await deps.store.read(signal.customerId), failure.cardId);
      if (card === null) return { outcome: 'card_unknown' };
      await deps.producers.notice({
        kind: 'payment_failed',
        customerId: signal.customerId,
        card,
        window: signal.invoiceId,
        requestedAt: deps.clock.now(),
      });
      return { outcome: 'payment_failed_notice', declineCode: failure.declineCode };
    },

    async source_expiring(signal) {
      const expiresAt = tryCardExpiresAt(signal.exp_month, signal.exp_year);
      const projection = await deps.store.read(signal.customerId);
      const known = projection?.subscriptions.find((s) => s.card?.id === signal.cardId)?.card ?? projection?.default_card;
      if (expiresAt === null || !known || known.id !== signal.cardId) return { outcome: 'card_not_billed' };
      const planned = await deps.scheduler.scheduleCard(signal.customerId, {
        ...known,
        exp_month: signal.exp_month,
        exp_year: signal.exp_year,
        expiresAt,
      });
      return { outcome: 'scheduled', jobs: planned };
    },

    async invoice_paid(signal) {
      const projection = await deps.store.read(signal.customerId);
      const proven = cardsProvenByPayment(projection, signal.paidAt, signal.subscriptionId);
      let honoured = 0;
      for (const card of proven) {
        if ((await deps.store.honourCard(signal.customerId, card, signal.paidAt)) === 'honoured') honoured += 1;
      }
      if (honoured > 0) {
        log.info({ customerId: signal.customerId, invoiceId: signal.invoiceId, cards: honoured }, 'payment after expiry: card honoured');
        await deps.watch.refresh(signal.customerId);
      }
      return { outcome: honoured > 0 ? 'honoured' : 'nothing_to_clear', cards: honoured };
    },
  };

  return {
    async runNoticeWindow(data) {
      if (data.windowDays === null) return { outcome: 'no_window' };
      const now = deps.clock.now();
      const decision = decideNoticeWindow(await deps.store.read(data.customerId), { ...data, windowDays: data.windowDays }, deps.noticeDays, now);
      if (decision.action === 'skip') return { outcome: decision.reason };
      if (decision.action === 'wait') return { outcome: 'early', retryInMs: decision.until - now };
      const { expiresAt: _expiresAt, ...card } = decision.card;
      await deps.producers.notice({ kind: 'card_expiring', customerId: data.customerId, card, window: `${data.windowDays}d`, requestedAt: deps.clock.now() });
      return { outcome: 'notice_queued', windowDays: data.windowDays };
    },
    runExpiryCheck,
    async runGraceEnd(data) {
      const result = await deps.watch.refresh(data.customerId);
      return { outcome: result.outcome };
    },
    applySignal(signal) {
      const handler = signalHandlers[signal.kind] as (s: ExpirySignal) => Promise<ExpiryJobResult>;
      return handler(signal);
    },
  };
}

/**
 * A failed invoice's decline: from the payload when it carries it, else with exactly one Stripe read: the
 * charge a legacy payload names, or (a current payload names none) the invoice with its payments expanded.
 */
async function declineOfInvoice(
  signal: Extract<ExpirySignal, { kind: 'invoice_payment_failed' }>,
  billing: CardExpiryServiceDeps['billing'],
): Promise<PaymentFailure> {
  const carried: PaymentFailure = {
    declineCode: signal.declineCode,
    chargeId: signal.chargeId,
    cardId: signal.cardId ?? null,
    exp_month: signal.exp_month ?? null,
    exp_year: signal.exp_year ?? null,
  };
  if (carried.declineCode !== null) return carried;
  const looked =
    carried.chargeId !== null
      ? chargeFailure(await billing.fetchCharge(carried.chargeId))
      : invoicePaymentFailure(await billing.fetchInvoicePayments(signal.invoiceId));
  return combineFailures(looked, carried);
}
