/**
 * POST /webhooks/stripe: verify, claim the event id in the ledger, enqueue, and only then answer 200.
 * A redelivered id is acknowledged without a second enqueue. If the enqueue fails the claim is undone,
 * so the 503 Stripe gets is followed by a retry we will accept. No Stripe API call on this path.
 * Whatever can be refused from the headers alone (no signature, a compressed body) is refused before a
 * byte of the body is read: Stripe never compresses, and an unauthenticated caller gets no inflating.
 */
import express, { Router, type RequestHandler } from 'express';
import type { Logger } from '../logger.js';
import type { Clock } from '../domain/projection.js';
import type { EventLedger } from '../store/event-ledger.js';
import type { Queues } from '../queues.js';
import { createEventAcceptor } from '../sync/accept-event.js';
import { requireSignatureHeader, verifyStripeWebhook } from './webhook-signature.js';
import { UnavailableError, UnsupportedEncodingError, isStorageUnavailable } from './errors.js';

export const WEBHOOK_BODY_LIMIT = '1mb';

export interface WebhookRouteDeps {
  webhookSecrets: readonly string[];
  ledger: EventLedger;
  queues: Pick<Queues, 'stripeEvents'>;
  clock: Clock;
  logger: Logger;
  /** Counts each delivery by event type and outcome (metrics); optional. */
  onOutcome?: (type: string, outcome: 'accepted' | 'duplicate' | 'rejected' | 'unavailable') => void;
}

/**
 * Runs before the body parser. The refusal closes the connection, so Node does not read the unread
 * body off the socket to reuse it. Identity is spelled as body-parser reads it (absent, or `identity`).
 */
function refuseBeforeBody(onRefused: () => void): RequestHandler {
  return (req, res, next) => {
    try {
      requireSignatureHeader(req.get('stripe-signature'));
      const encoding = (req.headers['content-encoding'] || 'identity').toLowerCase();
      if (encoding !== 'identity') throw new UnsupportedEncodingError('Webhook bodies are never compressed: Content-Encoding must be identity.');
    } catch (err) {
      onRefused();
      res.setHeader('Connection', 'close');
      throw err;
    }
    next();
  };
}

export function createWebhookRouter(deps: WebhookRouteDeps): Router {
  const router = Router();
  const log = deps.logger.child({ component: 'webhook' });
  const record = deps.onOutcome ?? (() => undefined);
  // inflate: false backs the check above up: body-parser itself refuses (415) instead of inflating.
  const rawBody = express.raw({ type: () => true, limit: WEBHOOK_BODY_LIMIT, inflate: false });
  const acceptEvent = createEventAcceptor({ ledger: deps.ledger, queues: deps.queues });

  router.post('/webhooks/stripe', refuseBeforeBody(() => record('unknown', 'rejected')), rawBody, async (req, res) => {
    const receivedAt = deps.clock.now();
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
