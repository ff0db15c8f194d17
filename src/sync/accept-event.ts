/**
 * acceptEvent: the one way a Stripe event enters subgate, whether a webhook delivered it or missed-event
 * recovery found it in Stripe's event list. Claims the id in the ledger, enqueues it under the event id,
 * then confirms the claim (without holding the caller for it). If the enqueue fails the claim is undone, so the next delivery (Stripe's
 * retry, the next recovery run) is accepted. A claim never confirmed (the process died between claim and
 * enqueue) is enqueued again by the next delivery: BullMQ's job id keeps that from making a second job
 * while the first exists, and a re-run of an event is harmless (it only asks for a refresh).
 * The job carries the event's digest, not the event: no personal data kept in Redis, and a size that
 * does not follow whatever the payload holds.
 */
import type { EventLedger } from '../store/event-ledger.js';
import type { StripeEventLike } from '../domain/stripe-shapes.js';
import { digestEvent } from '../domain/event-digest.js';
import type { Producers } from '../queues.js';
import type { ReplicaAck } from '../store/replica-ack.js';

export type AcceptOutcome = 'accepted' | 'duplicate';

export interface AcceptEventDeps {
  ledger: Pick<EventLedger, 'claim' | 'release' | 'markEnqueued'>;
  producers: Pick<Producers, 'stripeEvent'>;
  /**
   * REDIS_ACK_REPLICAS: waits until that many replicas hold this connection's writes, before the caller
   * is told the event is accepted (or a duplicate: the first delivery's writes may not be on them yet).
   */
  replicaAck?: Pick<ReplicaAck, 'confirm'>;
  /** A confirmation that did not land (the claim stays pending; see above); optional, for the log. */
  onConfirmFailed?: (eventId: string, err: unknown) => void;
}

export type AcceptEvent = (event: StripeEventLike, receivedAt: number) => Promise<AcceptOutcome>;

export function createEventAcceptor(deps: AcceptEventDeps): AcceptEvent {
  return async function acceptEvent(event, receivedAt) {
    const claim = await deps.ledger.claim(event.id, receivedAt);
    if (claim === 'enqueued') {
      await deps.replicaAck?.confirm();
      return 'duplicate';
    }
    try {
      await deps.producers.stripeEvent({ digest: digestEvent(event), receivedAt });
    } catch (err) {
      if (claim === 'new') await deps.ledger.release(event.id, receivedAt).catch(() => undefined);
      throw err;
    }
    // The event is queued: that is what the 2xx promises. The confirmation only spares later deliveries a
    // re-enqueue (a no-op by job id while the job lives), so the answer does not wait a round trip for it;
    // it is sent now, after the enqueue, and one that fails leaves the claim pending, which the next
    // delivery re-enqueues exactly as after a crash between the two.
    deps.ledger.markEnqueued(event.id).catch((err: unknown) => deps.onConfirmFailed?.(event.id, err));
    // Sent after the confirmation on the same connection, WAIT covers it too.
    await deps.replicaAck?.confirm();
    return claim === 'new' ? 'accepted' : 'duplicate';
  };
}
