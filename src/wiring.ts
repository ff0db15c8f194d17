/**
 * The pieces every composition root (API, worker, resync CLI) builds the same way from Config, so the
 * three entry points only say what differs between them.
 */
import { existsSync } from 'node:fs';
import type Stripe from 'stripe';
import type { Redis } from 'ioredis';
import { loadConfig, type Config } from './config.js';
import type { Logger } from './logger.js';
import type { Clock } from './domain/projection.js';
import type { Queues } from './queues.js';
import type { SubscriberStore } from './store/subscriber-store.js';
import type { Mailer } from './adapters/mailer.js';
import { createStripeBilling } from './adapters/stripe-billing.js';
import { createStripeClient } from './adapters/stripe-gateway.js';
import { createStripeRequestBudget } from './store/stripe-request-budget.js';
import { createUpdateCardLinks, type UpdateCardLinks } from './billing/update-card-links.js';
import { createExpiryComponents } from './expiry/expiry-components.js';
import { createOperations, type OperationsDeps } from './backfill/operations.js';

/**
 * loadConfig(), or one line naming the bad variable on stderr and exit 1. A `.env` in the working
 * directory is read first, for `npm start` on a laptop; variables already set in the environment win.
 */
export function loadConfigOrExit(): Config {
  try {
    if (existsSync('.env')) process.loadEnvFile('.env');
    return loadConfig();
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
}

/** The Stripe client, sending through the request budget every process on this Redis shares. */
export function stripeClientFrom(config: Config, redis: Redis): Stripe {
  return createStripeClient({
    secretKey: config.stripe.secretKey,
    apiBase: config.stripe.apiBase,
    budget: createStripeRequestBudget({ redis, prefix: config.redisKeyPrefix, requestsPerSecond: config.stripe.rateLimitPerSecond }),
  });
}

/** Update-card links, or null when LINK_SIGNING_SECRET is not configured. */
export function updateCardLinksFrom(config: Config, clock: Clock): UpdateCardLinks | null {
  return config.linkSigningSecret
    ? createUpdateCardLinks({ secret: config.linkSigningSecret, publicBaseUrl: config.publicBaseUrl, ttlDays: config.updateCardLinkTtlDays, clock })
    : null;
}

export function expiryComponentsFrom(
  config: Config,
  parts: {
    redis: Redis;
    queues: Queues;
    store: SubscriberStore;
    stripeClient: Stripe;
    links: UpdateCardLinks | null;
    clock: Clock;
    logger: Logger;
    mailer?: Mailer;
  },
) {
  return createExpiryComponents({
    redis: parts.redis,
    prefix: config.redisKeyPrefix,
    queues: parts.queues,
    store: parts.store,
    billing: createStripeBilling(parts.stripeClient),
    clock: parts.clock,
    logger: parts.logger,
    policy: config.policy,
    noticeDays: config.cardExpiryNoticeDays,
    debounceMs: config.syncDebounceMs,
    links: parts.links,
    publisherName: config.publisherName,
    supportEmail: config.supportEmail,
    newCardRecovery: config.newCardRecovery,
    streamMaxLength: config.entitlementStreamMaxLength,
    ...(parts.mailer ? { mailer: parts.mailer } : {}),
  });
}

/** The resync and missed-event recovery, wired as the worker and the resync CLI both need them. */
export function operationsFrom(
  config: Config,
  parts: Pick<OperationsDeps, 'redis' | 'stripe' | 'store' | 'ledger' | 'queues' | 'clock' | 'logger' | 'afterWrite'>,
) {
  return createOperations({
    ...parts,
    prefix: config.redisKeyPrefix,
    userIdMetadataKey: config.userIdMetadataKey,
    stripeRequestsPerSecond: config.stripe.rateLimitPerSecond,
  });
}
