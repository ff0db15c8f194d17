/**
 * Writes each reader's story as it happens: the timeline entries an operator reads on the customer page,
 * the e-mail index the search uses, and the recovery funnel's steps. Everything here is a side record:
 * a failure is logged and swallowed, so a full or unreachable timeline never fails a refresh, a notice or
 * a reader's click (and a retried job does not write its story twice for one failure here).
 *
 * The funnel: a card problem opens an episode (an expired card: the flag or the answer turning to
 * card_expired; an expiring card: a notice window reached; a failed payment: a subscription turning
 * past_due or the answer to payment_failed), and its later steps count once each: notice sent, link
 * opened, portal session, card updated, access restored (the answer back to active or trialing, or still
 * active on another card).
 */
import type { Logger } from '../logger.js';
import type { Clock, CustomerProjection } from '../domain/projection.js';
import type { EntitlementSummary } from '../domain/entitlement-change.js';
import type { NoticeRequest } from '../domain/notice.js';
import { newCardArrived } from '../domain/card-update.js';
import { cardInWords, projectionChanges, summaryInWords } from '../domain/story-words.js';
import type { CustomerTimeline, TimelineEntryInput } from '../store/customer-timeline.js';
import type { EmailIndex } from '../store/email-index.js';
import type { CardProblem, CountedStep, FunnelStep, RecoveryFunnelStore } from '../store/recovery-funnel.js';
import type { PortalOpening } from '../billing/portal-sessions.js';

export type FunnelListener = (step: CountedStep) => void;

export interface CustomerStory {
  /** One entry on a reader's timeline (what grants and other flows call). */
  record(customerId: string, entry: TimelineEntryInput): Promise<void>;
  afterWrite(written: { next: CustomerProjection; previous: CustomerProjection | null }): Promise<void>;
  entitlementChanged(customerId: string, previous: EntitlementSummary | null, next: EntitlementSummary): Promise<void>;
  /** A card problem seen by the card-expiry jobs (a flag raised, a notice window reached, a failed payment). */
  cardProblem(customerId: string, problem: CardProblem, entry: TimelineEntryInput): Promise<void>;
  noticeSent(request: Pick<NoticeRequest, 'kind' | 'customerId' | 'window'>, entry: TimelineEntryInput): Promise<void>;
  linkOpened(customerId: string, opening: PortalOpening | { kind: 'failed' }): Promise<void>;
  returned(customerId: string): Promise<void>;
  /** Called for every funnel step that counted (the Prometheus counters and histogram listen). */
  onFunnelStep(listener: FunnelListener): void;
}

const ENTITLED_CLEANLY = new Set(['active', 'trialing']);
const FAILED_PAYMENT_STATUSES = new Set(['past_due', 'unpaid']);

export function createCustomerStory(deps: {
  timeline: CustomerTimeline;
  emailIndex: EmailIndex;
  funnel: RecoveryFunnelStore;
  clock: Clock;
  logger: Logger;
}): CustomerStory {
  const log = deps.logger.child({ component: 'customer-story' });
  const listeners: FunnelListener[] = [];

  async function safely(what: string, customerId: string, work: () => Promise<unknown>): Promise<void> {
    try {
      await work();
    } catch (err) {
      log.warn({ customerId, what, reason: (err as Error).message }, 'customer story not recorded');
    }
  }

  const counted = (step: CountedStep | null) => {
    if (step) for (const listener of listeners) listener(step);
  };
  const detect = async (customerId: string, problem: CardProblem) => counted(await deps.funnel.detect(customerId, problem, deps.clock.now()));
  const step = async (customerId: string, name: Exclude<FunnelStep, 'detected'>) => counted(await deps.funnel.step(customerId, name, deps.clock.now()));

  return {
    async record(customerId, entry) {
      await safely('record', customerId, () => deps.timeline.record(customerId, entry));
    },

    async afterWrite({ next, previous }) {
      const customerId = next.customer;
      await safely('refresh', customerId, async () => {
        await deps.emailIndex.move(customerId, previous?.email ?? null, next.email);
        const changes = projectionChanges(previous, next);
        await deps.timeline.record(customerId, {
          kind: 'refresh',
          text: changes.length > 0 ? `Refreshed from Stripe: ${changes.join('; ')}` : 'Refreshed from Stripe: nothing changed',
          fields: { read_at: new Date(next.read_at).toISOString(), changes: changes.length },
        });
        const failing = next.subscriptions.some(
          (s) => FAILED_PAYMENT_STATUSES.has(s.status) && !previous?.subscriptions.some((p) => p.id === s.id && FAILED_PAYMENT_STATUSES.has(p.status)),
        );
        if (failing) await detect(customerId, 'failed_payment');
        if (newCardArrived(previous, next)) {
          await deps.timeline.record(customerId, { kind: 'refresh', text: `New card on file: ${cardInWords(next.default_card)}` });
          await step(customerId, 'card_updated');
        }
      });
    },

    async entitlementChanged(customerId, previous, next) {
      await safely('entitlement', customerId, async () => {
        await deps.timeline.record(customerId, {
          kind: 'entitlement',
          text: `Entitlement changed: ${summaryInWords(previous)} -> ${summaryInWords(next)}`,
          fields: { entitled: next.entitled, status: next.status, reason: next.reason },
        });
        if (next.reason === 'card_expired' || next.reason === 'card_expired_grace') await detect(customerId, 'expired');
        if (next.reason === 'payment_failed' || next.reason === 'payment_failed_grace') await detect(customerId, 'failed_payment');
        // A first publication is a reader seen for the first time, not one coming back: it restores nothing
        // (the expiring-card job can open that reader's episode before their first answer is published).
        const restored =
          previous !== null && ENTITLED_CLEANLY.has(next.status) && (!ENTITLED_CLEANLY.has(previous.status) || previous.card !== next.card);
        if (restored) await step(customerId, 'restored');
      });
    },

    async cardProblem(customerId, problem, entry) {
      await safely('card-problem', customerId, async () => {
        await deps.timeline.record(customerId, entry);
        await detect(customerId, problem);
      });
    },

    async noticeSent(request, entry) {
      await safely('notice', request.customerId, async () => {
        await deps.timeline.record(request.customerId, entry);
        if (request.kind !== 'access_restored') await step(request.customerId, 'notice_sent');
      });
    },

    async linkOpened(customerId, opening) {
      await safely('link', customerId, async () => {
        await deps.timeline.record(customerId, { kind: 'link_opened', text: 'Opened the update-card link' });
        await step(customerId, 'link_opened');
        if (opening.kind === 'opened' || opening.kind === 'reused') {
          await deps.timeline.record(customerId, {
            kind: 'portal_session',
            text: opening.kind === 'opened' ? 'Billing Portal session opened' : 'Billing Portal session handed out again (opened moments ago)',
          });
          await step(customerId, 'portal_session');
        } else {
          await deps.timeline.record(customerId, {
            kind: 'portal_session',
            text: opening.kind === 'limited' ? 'No portal session: over the link\'s session budget' : 'No portal session: Stripe call failed',
          });
        }
      });
    },

    async returned(customerId) {
      await safely('return', customerId, () => deps.timeline.record(customerId, { kind: 'returned', text: 'Came back from the Billing Portal (re-read from Stripe at once)' }));
    },

    onFunnelStep(listener) {
      listeners.push(listener);
    },
  };
}
