/**
 * Processor of the stripe-events queue: turns each verified event into a refresh request for the customer
 * it is about, from the event's digest. Thin on purpose: the decision is the pure router's, the refresh
 * is syncCustomer's.
 */
import { UnrecoverableError, type Job } from 'bullmq';
import { routeEvent } from '../../src/domain/event-routing.js';
import { refreshNeeded } from '../../src/domain/event-lanes.js';
import type { EventLedger } from '../../src/store/event-ledger.js';
import { readExpirySignal } from '../../src/domain/expiry-signals.js';
import { digestEvent, type EventDigest } from '../../src/domain/event-digest.js';
import type { StripeEventLike } from '../../src/domain/stripe-shapes.js';
import type { Producers, StripeEventJobData } from '../../src/queues.js';
import type { ProductCatalog } from '../../src/sync/product-catalog.js';

export interface StripeEventProcessorDeps {
  ledger: Pick<EventLedger, 'count'>;
  /** The refresh the event asks for, and a card signal (expired_card decline, expiring source, paid invoice). */
  producers: Pick<Producers, 'refresh' | 'expirySignal'>;
  /** Where product events go; null when neither features nor product names are configured. */
  catalog?: Pick<ProductCatalog, 'refreshProduct'> | null;
}

export type StripeEventResult =
  | { outcome: 'sync_requested'; customerId: string }
  | { outcome: 'product_refreshed'; productId: string }
  /** Its companion event (event-lanes.ts) asks for the refresh; only its card signal ran. */
  | { outcome: 'refresh_covered'; customerId: string }
  | { outcome: 'ignored' | 'no_customer' };

/**
 * The digest a job carries; a job queued before digests carries the whole event, digested here. The
 * webhook route checked the shape; a job that still lacks it was not made by us. No retry can fix it:
 * fail it at once, kept in the failed set with its reason.
 */
function digestOf(data: StripeEventJobData): EventDigest {
  const legacy = !('digest' in data);
  const carried = ('digest' in data ? data.digest : data.event) as Partial<StripeEventLike> | undefined;
  if (typeof carried?.type !== 'string' || typeof carried.data?.object !== 'object' || carried.data.object === null) {
    throw new UnrecoverableError('malformed event: no type or data.object');
  }
  return legacy ? digestEvent(carried as StripeEventLike) : (carried as EventDigest);
}

export function createStripeEventProcessor(deps: StripeEventProcessorDeps) {
  return async function processStripeEvent(job: Job<StripeEventJobData>): Promise<StripeEventResult> {
    const event = digestOf(job.data);
    const routing = routeEvent(event);
    if (routing.kind === 'product') {
      if (!deps.catalog) {
        await deps.ledger.count(event.type, 'ignored');
        return { outcome: 'ignored' };
      }
      await deps.catalog.refreshProduct(routing.productId, routing.deleted);
      await deps.ledger.count(event.type, 'applied');
      return { outcome: 'product_refreshed', productId: routing.productId };
    }
    if (routing.kind !== 'sync') {
      await deps.ledger.count(event.type, routing.kind);
      return { outcome: routing.kind };
    }
    const refresh = refreshNeeded(event.type);
    if (refresh) await deps.producers.refresh(routing.customerId, event.type, routing.urgency, event.id);
    const signal = readExpirySignal(event);
    if (signal !== null) await deps.producers.expirySignal(signal, event.id);
    await deps.ledger.count(event.type, refresh ? 'applied' : 'covered');
    return { outcome: refresh ? 'sync_requested' : 'refresh_covered', customerId: routing.customerId };
  };
}
