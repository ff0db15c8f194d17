/**
 * One fault scenario's world: a redis-server of its own (append-only when the test kills it), the
 * Stripe double and an SMTP sink in the test process, and the subgate processes it starts, all
 * configured through their environment. It reads what subgate wrote through subgate's own store
 * modules, to check the promises: an acknowledged event is durable (ledger entry, and its
 * stripe-events job or the refresh it caused), every customer's projection catches up with Stripe.
 */
import { createEventLedger, type EventLedger } from '../../src/store/event-ledger.js';
import { createQueues, type Queues } from '../../src/queues.js';
import { createSubscriberStore, type SubscriberStore } from '../../src/store/subscriber-store.js';
import { Redis } from 'ioredis';
import { cleanupPrefix, createTestRedis, startDisposableRedis, testClusterNodes, uniquePrefix, waitFor, type DisposableRedis } from './redis.js';
import { startSentinelGroup, type SentinelGroup } from './redis-topologies.js';
import { startStripeDouble, type StripeDouble } from './stripe-double.js';
import { startSmtpSink, type SmtpSink } from './smtp-sink.js';
import { startSubgate, type EntryKind, type SubgateProcess } from './processes.js';
import { putSubscriber, type Subscriber } from './card-scenarios.js';
import { startFlood, type Flood, type FloodEvent, type FloodOptions } from './webhook-flood.js';
import { failedChargeFixture } from '../fixtures/charges.js';

export const FAULT_WEBHOOK_SECRET = 'whsec_faults_suite_0001';
export const FAULT_API_TOKEN = 'faults-content-service-token';

export interface FaultStackOptions {
  label: string;
  /** Run Redis with `appendonly yes` (for tests that kill it and expect the data back). */
  appendOnly?: boolean;
  /** Start an SMTP sink and give its URL to the workers (else notices are only logged). */
  smtp?: boolean;
  /** Environment for every process started, on top of the defaults below. */
  env?: Record<string, string>;
  /**
   * Which Redis: a single server of its own (default); a primary + 2 replicas + 3 sentinels of its own
   * ('sentinel', every process on REDIS_SENTINELS; `redis.crash()` kills the primary); or the suite's
   * cluster ('cluster', TEST_REDIS_CLUSTER_NODES, every process on REDIS_CLUSTER_NODES).
   */
  topology?: 'single' | 'sentinel' | 'cluster';
}

export interface FaultStack {
  prefix: string;
  redis: DisposableRedis;
  /** The primary + replica + sentinels, with topology 'sentinel'. */
  sentinels: SentinelGroup | null;
  /** The test's own connection (waits through outages) and subgate's stores over it. */
  client: Redis;
  ledger: EventLedger;
  queues: Queues;
  store: SubscriberStore;
  stripe: StripeDouble;
  smtp: SmtpSink | null;
  env(overrides?: Record<string, string>): Record<string, string>;
  start(kind: EntryKind, label?: string, env?: Record<string, string>): Promise<SubgateProcess>;
  readonly processes: SubgateProcess[];
  /** startFlood, stopped by close() whatever happened (a failed test must not leave it retrying). */
  flood(events: readonly FloodEvent[], options: FloodOptions): Flood;
  close(): Promise<void>;
}

export async function startFaultStack(options: FaultStackOptions): Promise<FaultStack> {
  const prefix = uniquePrefix(options.label);
  const topology = options.topology ?? 'single';
  const sentinels = topology === 'sentinel' ? await startSentinelGroup() : null;
  const clusterNodes = topology === 'cluster' ? testClusterNodes() : null;
  if (topology === 'cluster' && !clusterNodes) throw new Error("topology 'cluster' needs TEST_REDIS_CLUSTER_NODES (npm run test:cluster)");
  const redis = sentinels ? sentinelShim(sentinels) : clusterNodes ? clusterShim(clusterNodes) : await startDisposableRedis({ appendOnly: options.appendOnly ?? false });
  const stripe = await startStripeDouble();
  const smtp = options.smtp ? await startSmtpSink() : null;
  const client = sentinels
    ? sentinelClient(sentinels)
    : clusterNodes
      ? createTestRedis()
      : createTestRedis({ url: redis.url });
  const topologyEnv: Record<string, string> = sentinels
    ? { REDIS_SENTINELS: sentinels.sentinelAddresses, REDIS_SENTINEL_NAME: sentinels.name }
    : clusterNodes
      ? { REDIS_CLUSTER_NODES: clusterNodes }
      : {};
  const processes: SubgateProcess[] = [];
  const floods: Flood[] = [];

  const env = (overrides: Record<string, string> = {}) => ({
    REDIS_URL: redis.url,
    ...topologyEnv,
    REDIS_KEY_PREFIX: prefix,
    STRIPE_SECRET_KEY: 'sk_test_faults_suite',
    STRIPE_API_BASE: stripe.url,
    STRIPE_WEBHOOK_SECRET: FAULT_WEBHOOK_SECRET,
    ENTITLEMENT_API_TOKENS: FAULT_API_TOKEN,
    ...(smtp ? { SMTP_URL: smtp.url } : {}),
    LOG_LEVEL: 'info',
    // Real-world pacing is not what these tests are about: refreshes and notices go as fast as they can.
    SYNC_DEBOUNCE_MS: '50',
    STRIPE_API_RATE_LIMIT: '1000',
    NOTICE_RATE_LIMIT: '1000',
    NOTICE_FROM: 'The Fault Gazette <help@faults.test>',
    ...options.env,
    ...overrides,
  });

  return {
    prefix,
    redis,
    sentinels,
    client,
    ledger: createEventLedger({ redis: client, prefix }),
    queues: createQueues(client, prefix),
    store: createSubscriberStore({ redis: client, prefix }),
    stripe,
    smtp,
    env,
    processes,
    async start(kind, label, overrides) {
      const proc = await startSubgate(kind, env(overrides), label ?? kind);
      processes.push(proc);
      return proc;
    },
    flood(events, options) {
      const flood = startFlood(events, options);
      floods.push(flood);
      return flood;
    },
    async close() {
      await Promise.all(floods.map((f) => f.stop()));
      await Promise.all(processes.map((p) => p.kill9()));
      if (clusterNodes) await cleanupPrefix(client, prefix).catch(() => undefined);
      client.disconnect();
      await Promise.allSettled([stripe.close(), smtp?.close(), redis.stop()]);
    },
  };
}

/** The primary of a sentinel group as a DisposableRedis: crash() is the kill -9 of the primary a failover follows. */
function sentinelShim(group: SentinelGroup): DisposableRedis {
  const unsupported = async () => {
    throw new Error('a sentinel group is not restarted; its replica takes over');
  };
  return {
    url: `redis://127.0.0.1:${group.primary.port}`,
    port: group.primary.port,
    stop: () => group.stop(),
    restart: unsupported,
    pause: () => undefined,
    resume: () => undefined,
    crash: () => group.primary.crash(),
  };
}

/** The suite's cluster, which this stack neither starts nor stops (its keys are cleaned up by prefix). */
function clusterShim(nodes: string): DisposableRedis {
  const unsupported = async () => {
    throw new Error("the suite's cluster is not this test's to restart or crash");
  };
  const first = nodes.split(',')[0]!;
  return { url: `redis://${first}`, port: Number(first.split(':')[1]), stop: async () => undefined, restart: unsupported, pause: () => undefined, resume: () => undefined, crash: unsupported };
}

/** The test's own view through the sentinels: it follows the failover as subgate must. */
function sentinelClient(group: SentinelGroup): Redis {
  const client = new Redis({
    sentinels: group.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })),
    name: group.name,
    maxRetriesPerRequest: null,
    failoverDetector: true,
    reconnectOnError: (err) => /READONLY/.test(err.message),
  });
  client.on('error', () => {});
  return client;
}

/** `count` subscribers in the double (active, a card valid for years), none of them known to subgate yet. */
export function putSubscribers(stack: FaultStack, count: number, opts: { last4?: string } = {}): Subscriber[] {
  return Array.from({ length: count }, (_, i) =>
    putSubscriber(stack.stripe, Date.now(), { exp_month: 12, exp_year: 2031, user: `reader-${i}`, ...(opts.last4 ? { last4: opts.last4 } : {}) }),
  );
}

/** A flood event about one customer. */
export type CustomerEvent = FloodEvent & { customerId: string };

/** A signed delivery of an event about one customer, as Stripe sends it (signed at each attempt). */
export function signedEvent(stack: FaultStack, customerId: string, event: { id: string }): CustomerEvent {
  return {
    id: event.id,
    customerId,
    delivery: () => {
      const { payload, header } = stack.stripe.sign(event, FAULT_WEBHOOK_SECRET);
      return { headers: { 'Content-Type': 'application/json', 'Stripe-Signature': header }, body: payload };
    },
  };
}

/** A `customer.updated` event for one customer, with the customer as the double holds it. */
export function customerUpdated(stack: FaultStack, customerId: string): CustomerEvent {
  return signedEvent(stack, customerId, stack.stripe.makeEvent('customer.updated', stack.stripe.getCustomer(customerId)!));
}

/** `perCustomer` customer.updated events for each customer, interleaved (a flood touches all of them at once). */
export function updateFlood(stack: FaultStack, customers: readonly Subscriber[], perCustomer: number): CustomerEvent[] {
  return Array.from({ length: perCustomer }, () => customers.map((c) => customerUpdated(stack, c.customerId))).flat();
}

export interface MidFlood {
  customers: Subscriber[];
  events: CustomerEvent[];
  flood: Flood;
}

/**
 * The common start of a scenario: 40 subscribers, 40 customer.updated events each (1,600, interleaved),
 * flooded like Stripe at `target()` over keep-alive connections until `acked` are acknowledged, so the
 * fault comes mid-flood.
 */
export async function floodUntilAcked(
  stack: FaultStack,
  target: () => string,
  opts: { acked?: number; lanes?: number; keepAlive?: boolean } = {},
): Promise<MidFlood> {
  const customers = putSubscribers(stack, 40);
  const events = updateFlood(stack, customers, 40);
  const flood = stack.flood(events, { targets: () => [target()], concurrency: opts.lanes ?? 16, keepAlive: opts.keepAlive ?? true });
  const acked = opts.acked ?? 400;
  await waitFor(() => flood.ackedIds().length >= acked, { timeoutMs: 60_000, message: `${acked} events acknowledged` });
  return { customers, events, flood };
}

/**
 * Event ids that are not durable: no ledger entry, or neither their stripe-events job nor a refresh of
 * their customer that began after the event was accepted.
 */
export async function notDurable(stack: FaultStack, events: readonly CustomerEvent[]): Promise<string[]> {
  const missing: string[] = [];
  for (const { id, customerId } of events) {
    const receivedAt = await stack.ledger.receivedAt(id);
    if (receivedAt === null) {
      missing.push(id);
      continue;
    }
    if (await stack.queues.stripeEvents.getJob(id)) continue;
    const projection = await stack.store.read(customerId);
    if (!projection || projection.read_at < receivedAt) missing.push(id);
  }
  return missing;
}

/** Customers whose projection does not (yet) say what Stripe says: the user id in the double's metadata. */
export async function notCurrent(stack: FaultStack, customers: readonly Subscriber[]): Promise<string[]> {
  const states = await stack.store.readMany(customers.map((c) => c.customerId));
  const byId = new Map(states.map((s) => [s.projection.customer, s.projection]));
  return customers
    .filter((c) => byId.get(c.customerId)?.user !== stack.stripe.getCustomer(c.customerId)?.metadata?.user_id)
    .map((c) => c.customerId);
}

/** Polls until every customer is current; resolves with how long that took from `since` (performance.now()). */
export async function waitUntilCurrent(stack: FaultStack, customers: readonly Subscriber[], since: number, timeoutMs = 120_000): Promise<number> {
  let lagging: string[] = [];
  await waitFor(
    async () => {
      lagging = await notCurrent(stack, customers);
      return lagging.length === 0;
    },
    { timeoutMs, intervalMs: 100, message: `every customer current (still behind: ${lagging.length})` },
  );
  return performance.now() - since;
}

/** Resolves when no notice, card-expiry or event job is waiting or running (far-off delayed expiry jobs may stay). */
export async function settleQueues(s: FaultStack, timeoutMs = 120_000): Promise<void> {
  await waitFor(
    async () => {
      const counts = await Promise.all([
        s.queues.stripeEvents.getJobCounts('waiting', 'active', 'delayed', 'prioritized'),
        s.queues.customerSync.getJobCounts('waiting', 'active', 'delayed', 'prioritized'),
        s.queues.cardExpiry.getJobCounts('waiting', 'active', 'prioritized'),
        s.queues.notices.getJobCounts('waiting', 'active', 'delayed', 'prioritized'),
      ]);
      return counts.every((c) => Object.values(c).every((n) => n === 0));
    },
    { timeoutMs, intervalMs: 200, message: 'every queue settled' },
  );
}

/**
 * An expired_card decline on the customer's card: a card_expired notice is due at once. `again()` is
 * another event about the same decline (Stripe sends charge.failed and invoice.payment_failed for one).
 */
export function expiredCardDecline(s: FaultStack, customerId: string, pmId: string): { event: CustomerEvent; again: () => CustomerEvent } {
  const charge = failedChargeFixture({
    customer: customerId,
    paymentMethod: pmId,
    failureCode: 'expired_card',
    reason: 'expired_card',
    card: { brand: 'visa', last4: '4242', exp_month: 12, exp_year: 2031 },
  });
  const make = () => signedEvent(s, customerId, s.stripe.makeEvent('charge.failed', charge));
  return { event: make(), again: make };
}
