/**
 * POST /webhooks/stripe: verify, claim the event id in the ledger, enqueue, and only then answer 200.
 * A redelivered id is acknowledged without a second enqueue. If the enqueue fails the claim is undone,
 * so the 503 Stripe gets is followed by a retry we will accept. No Stripe API call on this path.
 * Whatever can be refused from the headers alone (no signature, a compressed body) is refused before a
 * byte of the body is read: Stripe never compresses, and an unauthenticated caller gets no inflating.
 */
import express, { Router, type RequestHandler } from 'express';
import Stripe from 'stripe';
import type { Logger } from '../logger.js';
import type { Clock } from '../domain/projection.js';
import type { AcceptEvent } from '../sync/accept-event.js';
import { requireSignatureHeader, verifyStripeWebhook } from './webhook-signature.js';
import { UnavailableError, UnsupportedEncodingError, isStorageUnavailable } from './errors.js';
import { createApiVersionWatch } from './api-version-watch.js';
import { tracingEnabled, withSpan } from '../tracing.js';

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
  /** The ledger claim and the enqueue (sync/accept-event.ts), shared with missed-event recovery. */
  acceptEvent: AcceptEvent;
  /** The Redis work's deadline (default WEBHOOK_REDIS_DEADLINE_MS; more when replicas must acknowledge). */
  redisDeadlineMs?: number;
  clock: Clock;
  logger: Logger;
  /** Counts each delivery by event type and outcome (metrics); optional. */
  onOutcome?: (type: string, outcome: 'accepted' | 'duplicate' | 'rejected' | 'unavailable') => void;
  /** Counts each accepted event by the API version it was rendered in (metrics); optional. */
  onApiVersion?: (apiVersion: string) => void;
  /** The version events are expected in; default the SDK's pinned Stripe.API_VERSION. */
  expectedApiVersion?: string;
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
  const { acceptEvent } = deps;
  const observeApiVersion = createApiVersionWatch({
    expected: deps.expectedApiVersion ?? Stripe.API_VERSION,
    logger: log,
    ...(deps.onApiVersion ? { count: deps.onApiVersion } : {}),
  });

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
      const accepted = event;
      const accept = () => withinDeadline(acceptEvent(accepted, receivedAt), deps.redisDeadlineMs ?? WEBHOOK_REDIS_DEADLINE_MS);
      // Tracing off (the default): not even the span's attributes are built.
      outcome = await (tracingEnabled()
        ? withSpan(
            'POST /webhooks/stripe',
            { 'http.request.method': 'POST', 'url.path': '/webhooks/stripe', 'stripe.event.id': accepted.id, 'stripe.event.type': accepted.type },
            accept,
            { kind: 'server' },
          )
        : accept());
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
