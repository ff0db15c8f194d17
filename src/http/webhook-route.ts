/**
 * POST /webhooks/stripe: verify, claim the event id in the ledger, enqueue, and only then answer 200.
 * A redelivered id is acknowledged without a second enqueue. If the enqueue fails the claim is undone,
 * so the 503 Stripe gets is followed by a retry we will accept. No Stripe API call on this path.
 */
import express, { Router } from 'express';
import Stripe from 'stripe';
import type { Logger } from '../logger.js';
import type { Clock } from '../domain/projection.js';
import type { EventLedger } from '../store/event-ledger.js';
import type { Queues } from '../queues.js';
import { createEventAcceptor } from '../sync/accept-event.js';
import { verifyStripeWebhook } from './webhook-signature.js';
import { UnavailableError, isStorageUnavailable } from './errors.js';
import { createApiVersionWatch } from './api-version-watch.js';

export const WEBHOOK_BODY_LIMIT = '1mb';

export interface WebhookRouteDeps {
  webhookSecrets: readonly string[];
  ledger: EventLedger;
  queues: Pick<Queues, 'stripeEvents'>;
  clock: Clock;
  logger: Logger;
  /** Counts each delivery by event type and outcome (metrics); optional. */
  onOutcome?: (type: string, outcome: 'accepted' | 'duplicate' | 'rejected' | 'unavailable') => void;
  /** Counts each accepted event by the API version it was rendered in (metrics); optional. */
  onApiVersion?: (apiVersion: string) => void;
  /** The version events are expected in; default the SDK's pinned Stripe.API_VERSION. */
  expectedApiVersion?: string;
}

export function createWebhookRouter(deps: WebhookRouteDeps): Router {
  const router = Router();
  const log = deps.logger.child({ component: 'webhook' });
  const rawBody = express.raw({ type: () => true, limit: WEBHOOK_BODY_LIMIT });
  const acceptEvent = createEventAcceptor({ ledger: deps.ledger, queues: deps.queues });
  const observeApiVersion = createApiVersionWatch({
    expected: deps.expectedApiVersion ?? Stripe.API_VERSION,
    logger: log,
    ...(deps.onApiVersion ? { count: deps.onApiVersion } : {}),
  });

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
      outcome = await acceptEvent(event, receivedAt);
    } catch (err) {
      record(event.type, 'unavailable');
      if (isStorageUnavailable(err)) throw new UnavailableError(undefined, { cause: err });
      throw err;
    }
    record(event.type, outcome);
    if (outcome === 'accepted') observeApiVersion(event.api_version, event.id);
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
