/**
 * Wires the operations parts (issue 5) from their clients, for both composition roots, the CLI and the
 * test harness: the resync runner and missed-event recovery. Builds objects only: opens no connection.
 */
import type { Redis } from 'ioredis';
import type Stripe from 'stripe';
import type { Logger } from '../logger.js';
import type { Clock } from '../domain/projection.js';
import type { Queues } from '../queues.js';
import type { SubscriberStore } from '../store/subscriber-store.js';
import type { EventLedger } from '../store/event-ledger.js';
import { createBackfillStore, type BackfillStore } from '../store/backfill-store.js';
import { createRecoveryStore, type RecoveryStore } from '../store/recovery-store.js';
import { createStripeListSource } from '../adapters/stripe-backfill.js';
import type { AfterWrite } from '../sync/after-sync.js';
import { createEventAcceptor } from '../sync/accept-event.js';
import { createEventRecovery, type RecoverEvents } from '../recovery/event-recovery.js';
import { createBackfillRunner, type BackfillRetry, type RunBackfill } from './backfill-runner.js';

export interface OperationsDeps {
  redis: Redis;
  prefix: string;
  stripe: Stripe;
  store: SubscriberStore;
  ledger: EventLedger;
  queues: Pick<Queues, 'stripeEvents'>;
  clock: Clock;
  logger: Logger;
  userIdMetadataKey: string;
  /** The same hook syncCustomer runs after a write (card-expiry schedule, entitlement feed). */
  afterWrite?: AfterWrite;
  /** Stripe list requests per second the resync may make. */
  stripeRequestsPerSecond: number;
  backfillRetry?: BackfillRetry;
}

export interface Operations {
  runBackfill: RunBackfill;
  recoverEvents: RecoverEvents;
  backfillStore: BackfillStore;
  recoveryStore: RecoveryStore;
}

export function createOperations(deps: OperationsDeps): Operations {
  const source = createStripeListSource(deps.stripe);
  const backfillStore = createBackfillStore({ redis: deps.redis, prefix: deps.prefix });
  const recoveryStore = createRecoveryStore({ redis: deps.redis, prefix: deps.prefix });
  return {
    backfillStore,
    recoveryStore,
    runBackfill: createBackfillRunner({
      source,
      store: deps.store,
      checkpoints: backfillStore,
      clock: deps.clock,
      logger: deps.logger,
      userIdMetadataKey: deps.userIdMetadataKey,
      requestsPerSecond: deps.stripeRequestsPerSecond,
      ...(deps.afterWrite ? { afterWrite: deps.afterWrite } : {}),
      ...(deps.backfillRetry ? { retry: deps.backfillRetry } : {}),
    }),
    recoverEvents: createEventRecovery({
      source,
      acceptEvent: createEventAcceptor({ ledger: deps.ledger, queues: deps.queues }),
      checkpoints: recoveryStore,
      clock: deps.clock,
      logger: deps.logger,
    }),
  };
}
