/**
 * Wires the card-expiry parts (issue 3) from their clients, once, for both composition roots, the test
 * harness and the bench: the entitlement feed and watch, the scheduler, the notice outbox and sender,
 * card recovery, the afterWrite hook of syncCustomer, the expiry service and the sweep. Builds objects
 * only: opens no connection, starts no worker.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { Clock, PolicySettings } from '../domain/projection.js';
import type { Queues, NoticeRetry } from '../queues.js';
import type { SubscriberStore } from '../store/subscriber-store.js';
import { createEntitlementFeed, type EntitlementFeed } from '../store/entitlement-feed.js';
import { createNoticeLedger, type NoticeLedger } from '../store/notice-ledger.js';
import type { Mailer } from '../adapters/mailer.js';
import type { StripeBilling } from '../adapters/stripe-billing.js';
import type { UpdateCardLinks } from '../billing/update-card-links.js';
import { createCardRecovery, type CardRecovery } from '../billing/card-recovery.js';
import { createNoticeOutbox, type NoticeOutbox } from '../notices/notice-outbox.js';
import { createNoticeSender, type NoticeSender } from '../notices/notice-sender.js';
import { createEntitlementWatch, type EntitlementWatch } from '../sync/entitlement-watch.js';
import { createSyncRequester, type RequestSync } from '../sync/sync-requests.js';
import { createAfterSync, type AfterWrite } from '../sync/after-sync.js';
import { createExpiryScheduler, type ExpiryScheduler } from './expiry-scheduler.js';
import { createCardExpiryService, type CardExpiryService } from './card-expiry-service.js';
import { createExpirySweep, type ExpirySweep } from './expiry-sweep.js';

export interface ExpiryComponentsDeps {
  redis: Redis;
  prefix: string;
  queues: Queues;
  store: SubscriberStore;
  billing: StripeBilling;
  clock: Clock;
  logger: Logger;
  policy: PolicySettings;
  noticeDays: readonly number[];
  debounceMs: number;
  links: UpdateCardLinks | null;
  publisherName: string;
  supportEmail: string;
  newCardRecovery: boolean;
  streamMaxLength: number;
  noticeRetry?: NoticeRetry;
  horizonMs?: number;
  /** Only where notices are sent (the worker side). */
  mailer?: Mailer;
}

export interface ExpiryComponents {
  feed: EntitlementFeed;
  watch: EntitlementWatch;
  scheduler: ExpiryScheduler;
  outbox: NoticeOutbox;
  noticeLedger: NoticeLedger;
  requestSync: RequestSync;
  recovery: CardRecovery;
  /** syncCustomer's hook where events are processed: also applies a newly arrived card. */
  afterWrite: AfterWrite;
  /** syncCustomer's hook on the update-card return, which applies the card itself. */
  afterWriteWithoutRecovery: AfterWrite;
  service: CardExpiryService;
  sweep: ExpirySweep;
  noticeSender: NoticeSender | null;
}

export function createExpiryComponents(deps: ExpiryComponentsDeps): ExpiryComponents {
  const feed = createEntitlementFeed({ redis: deps.redis, prefix: deps.prefix, maxLength: deps.streamMaxLength });
  const noticeLedger = createNoticeLedger({ redis: deps.redis, prefix: deps.prefix });
  const outbox = createNoticeOutbox({ queue: deps.queues.notices, ...(deps.noticeRetry ? { retry: deps.noticeRetry } : {}) });
  const watch = createEntitlementWatch({ store: deps.store, feed, clock: deps.clock, policy: deps.policy, notices: outbox });
  const scheduler = createExpiryScheduler({
    queue: deps.queues.cardExpiry,
    clock: deps.clock,
    noticeDays: deps.noticeDays,
    graceDays: deps.policy.cardExpiredGraceDays,
    pastDueGraceDays: deps.policy.pastDueGraceDays,
    ...(deps.horizonMs !== undefined ? { horizonMs: deps.horizonMs } : {}),
  });
  const requestSync = createSyncRequester({ queue: deps.queues.customerSync, clock: deps.clock, debounceMs: deps.debounceMs });
  const recovery = createCardRecovery({ billing: deps.billing, enabled: deps.newCardRecovery, clock: deps.clock, logger: deps.logger });
  const service = createCardExpiryService({
    store: deps.store,
    billing: deps.billing,
    scheduler,
    watch,
    notices: outbox,
    requestSync,
    clock: deps.clock,
    noticeDays: deps.noticeDays,
    logger: deps.logger,
  });
  return {
    feed,
    watch,
    scheduler,
    outbox,
    noticeLedger,
    requestSync,
    recovery,
    afterWrite: createAfterSync({ scheduler, watch, recovery, requestSync }),
    afterWriteWithoutRecovery: createAfterSync({ scheduler, watch, recovery: null, requestSync }),
    service,
    sweep: createExpirySweep({ store: deps.store, scheduler, clock: deps.clock, logger: deps.logger }),
    noticeSender: deps.mailer
      ? createNoticeSender({
          ledger: noticeLedger,
          mailer: deps.mailer,
          store: deps.store,
          links: deps.links,
          clock: deps.clock,
          publisherName: deps.publisherName,
          supportEmail: deps.supportEmail,
          logger: deps.logger,
        })
      : null,
  };
}
