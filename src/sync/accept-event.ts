/**
 * acceptEvent: the one way a Stripe event enters subgate, whether a webhook delivered it or missed-event
 * recovery found it in Stripe's event list. Claims the id in the ledger, then enqueues it; if the enqueue
 * fails the claim is undone so the next delivery (Stripe's retry, the next recovery run) is accepted.
 */
import type { EventLedger } from '../store/event-ledger.js';
import type { StripeEventLike } from '../domain/stripe-shapes.js';
import { JOB, STRIPE_EVENT_JOB_OPTIONS, type Queues } from '../queues.js';

export type AcceptOutcome = 'accepted' | 'duplicate';

export interface AcceptEventDeps {
  ledger: Pick<EventLedger, 'claim' | 'release'>;
  queues: Pick<Queues, 'stripeEvents'>;
}

export type AcceptEvent = (event: StripeEventLike, receivedAt: number) => Promise<AcceptOutcome>;

export function createEventAcceptor(deps: AcceptEventDeps): AcceptEvent {
  return async function acceptEvent(event, receivedAt) {
    if (!(await deps.ledger.claim(event.id, receivedAt))) return 'duplicate';
    try {
      await deps.queues.stripeEvents.add(JOB.stripeEvent, { event, receivedAt }, { ...STRIPE_EVENT_JOB_OPTIONS, jobId: event.id });
    } catch (err) {
      await deps.ledger.release(event.id).catch(() => undefined);
      throw err;
    }
    return 'accepted';
  };
}
