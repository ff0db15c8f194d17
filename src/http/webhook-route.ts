/**
 * POST /webhooks/stripe: verify, claim the event id in the ledger, enqueue, and only then answer 200.
 * A redelivered id is acknowledged without a second enqueue. If the enqueue fails the claim is undone,
 * so the 503 Stripe gets is followed by a retry we will accept. No Stripe API call on this path.
 */
import express, { Router } from 'express';
import type { Logger } from '../logger.js';
import type { Clock } from '../domain/projection.js';
import type { EventLedger } from '../store/event-ledger.js';
import type { Queues } from '../queues.js';
import { createEventAcceptor } from '../sync/accept-event.js';
import { verifyStripeWebhook } from './webhook-signature.js';
import { UnavailableError, isStorageUnavailable } from './errors.js';

export const WEBHOOK_BODY_LIMIT = '1mb';

/**
 * The whole Redis work of one delivery (claim, enqueue, confirm) gets this long, then Stripe gets its 503.
 * Waiting on the commands instead cost up to two command timeouts of the fail-fast connection (1.5 s
 * each) when Redis hangs with its connections open: a command queues behind the connection's batch
 * already in flight, and that batch times out first.
 */
export const WEBHOOK_REDIS_DEADLINE_MS = 1000;

export interface WebhookRouteDeps {
  webhookSecrets: readonly string[];
  ledger: EventLedger;
  queues: Pick<Queues, 'stripeEvents'>;
  clock: Clock;
  logger: Logger;
  /** Counts each delivery by event type and outcome (metrics); optional. */
  onOutcome?: (type: string, outcome: 'accepted' | 'duplicate' | 'rejected' | 'unavailable') => void;
}

export function createWebhookRouter(deps: WebhookRouteDeps): Router {
  const router = Router();
  const log = deps.logger.child({ component: 'webhook' });
  const rawBody = express.raw({ type: () => true, limit: WEBHOOK_BODY_LIMIT });
  const acceptEvent = createEventAcceptor({ ledger: deps.ledger, queues: deps.queues });

  router.post('/webhooks/stripe', rawBody, async (req, res) => {
    const receivedAt = deps.clock.now();
    const record = deps.onOutcome ?? (() => undefined);
    let event;
    try {
      event = verifyStripeWebhook({
        rawBody: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
        signatureHeader: req.get('stripe-signature'),
        secrets: deps.webhookSecrets,
        now: receivedAt,
      });
    } catch (err) {
      record('unknown', 'rejected');
      throw err;
    }

    let outcome;
    try {
      outcome = await withinDeadline(acceptEvent(event, receivedAt), WEBHOOK_REDIS_DEADLINE_MS);
    } catch (err) {
      record(event.type, 'unavailable');
      if (isStorageUnavailable(err)) throw new UnavailableError(undefined, { cause: err });
      throw err;
    }
    record(event.type, outcome);
    if (outcome === 'duplicate') {
      log.info({ eventId: event.id, type: event.type }, 'duplicate event acknowledged');
      res.status(200).json({ received: true, duplicate: true });
      return;
    }
    log.debug({ eventId: event.id, type: event.type }, 'event accepted');
    res.status(200).json({ received: true });
  });
  return router;
}

/**
 * The acceptance, or a 503 once `ms` have passed. A late acceptance carries on by itself, off the request,
 * and none of its endings loses the event: an enqueue that lands is found by Stripe's redelivery (a
 * duplicate 200), a failed one releases its claim, and a claim left unconfirmed is enqueued by the redelivery.
 */
function withinDeadline<T>(acceptance: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new UnavailableError('Storage did not answer in time; retry later.')), ms);
  });
  return Promise.race([acceptance, deadline]).finally(() => clearTimeout(timer));
}
