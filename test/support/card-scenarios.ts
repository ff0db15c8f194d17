/**
 * Builders for card-expiry scenarios on the Stripe double: a subscriber paying with a card of a given
 * expiry, a reader replacing their card, and helpers to look at and run the card-expiry jobs.
 */
import type { Job } from 'bullmq';
import {
  cardPaymentMethodFixture,
  customerFixture,
  invoiceFixture,
  subscriptionFixture,
  type StripeJson,
} from '../fixtures/stripe-objects.js';
import type { Harness } from './harness.js';
import { waitFor } from './redis.js';
import type { SmtpSink, ReceivedMail } from './smtp-sink.js';
import type { StripeDouble } from './stripe-double.js';

export interface Subscriber {
  customerId: string;
  pmId: string;
  subscriptionId: string;
  email: string | null;
}

export interface SubscriberOptions {
  exp_month: number;
  exp_year: number;
  brand?: string;
  last4?: string;
  email?: string | null;
  status?: 'active' | 'past_due' | 'trialing';
  /** The subscription carries the card as its own default_payment_method (else it uses the customer's). */
  cardOnSubscription?: boolean;
  /** For past_due: an open invoice that is the subscription's latest. */
  openInvoice?: boolean;
  /** How long ago that invoice was finalized (the payment first failed), in days; default 0. */
  invoiceAgeDays?: number;
  user?: string;
  /** Sync it into subgate now (default true). */
  sync?: boolean;
}

/** A customer with a card PaymentMethod as default and one subscription, put in the double and synced. */
export async function seedSubscriber(h: Harness, opts: SubscriberOptions): Promise<Subscriber> {
  const subscriber = putSubscriber(h.stripe, h.clock.now(), opts);
  if (opts.sync ?? true) await h.syncCustomer(subscriber.customerId);
  return subscriber;
}

/** The same subscriber, only put in the double (for tests whose subgate runs in other processes). */
export function putSubscriber(stripe: StripeDouble, nowMs: number, opts: Omit<SubscriberOptions, 'sync'>): Subscriber {
  const now = Math.floor(nowMs / 1000);
  const customer = customerFixture({ metadata: opts.user ? { user_id: opts.user } : {} });
  if (opts.email !== undefined) customer.email = opts.email;
  const pm = stripe.putPaymentMethod(
    cardPaymentMethodFixture({
      customer: customer.id,
      exp_month: opts.exp_month,
      exp_year: opts.exp_year,
      brand: opts.brand ?? 'visa',
      last4: opts.last4 ?? '4242',
    }),
  );
  customer.invoice_settings.default_payment_method = pm.id;
  stripe.putCustomer(customer);
  const subscription = subscriptionFixture({
    customer: customer.id,
    status: opts.status ?? 'active',
    created: now - 86_400 * 40,
    current_period_start: now - 86_400 * 5,
    current_period_end: now + 86_400 * 25,
    ...(opts.cardOnSubscription ? { default_payment_method: pm.id } : {}),
  });
  if (opts.openInvoice) {
    const invoice = stripe.putInvoice(
      invoiceFixture({
        customer: customer.id,
        subscription: subscription.id,
        status: 'open',
        created: now - 3600 - (opts.invoiceAgeDays ?? 0) * 86_400,
      }),
    );
    subscription.latest_invoice = invoice.id;
  }
  stripe.putSubscription(subscription);
  return { customerId: customer.id, pmId: pm.id, subscriptionId: subscription.id, email: customer.email };
}

/** The reader adds a new card in Stripe and makes it the customer's default (what the portal does). */
export function replaceCard(h: Harness, customerId: string, card: { exp_month: number; exp_year: number; last4?: string }): StripeJson {
  const pm = h.stripe.putPaymentMethod(
    cardPaymentMethodFixture({ customer: customerId, exp_month: card.exp_month, exp_year: card.exp_year, last4: card.last4 ?? '1881', brand: 'mastercard' }),
  );
  const customer = h.stripe.getCustomer(customerId)!;
  customer.invoice_settings = { ...customer.invoice_settings, default_payment_method: pm.id };
  h.stripe.putCustomer(customer);
  return pm;
}

export async function expiryJobs(h: Harness, states: Array<'delayed' | 'waiting' | 'active' | 'completed' | 'failed' | 'prioritized'> = ['delayed', 'waiting', 'active', 'completed', 'failed', 'prioritized']): Promise<Job[]> {
  return (await h.queues.cardExpiry.getJobs(states)) as unknown as Job[];
}

/** Runs a delayed card-expiry job now (time in the test is the injected clock, not BullMQ's). */
export async function promote(h: Harness, jobId: string): Promise<Job> {
  const job = await h.queues.cardExpiry.getJob(jobId);
  if (!job) throw new Error(`no card-expiry job ${jobId}`);
  await job.promote();
  return job as unknown as Job;
}

/** Waits until the job finished (completed or failed) and returns its return value. */
export async function finished(h: Harness, jobId: string): Promise<unknown> {
  return waitFor(
    async () => {
      const job = await h.queues.cardExpiry.getJob(jobId);
      const state = job ? await job.getState() : 'missing';
      return state === 'completed' ? { value: job!.returnvalue } : state === 'failed' ? { value: { failed: job!.failedReason } } : null;
    },
    { timeoutMs: 10_000, message: `card-expiry job ${jobId} to finish` },
  ).then((r) => r!.value);
}

/** Resolves when the card-expiry and notice queues have nothing waiting or running (delayed jobs may remain). */
export async function settleExpiry(h: Harness, timeoutMs = 10_000): Promise<void> {
  await h.settle(timeoutMs);
  await waitFor(
    async () => {
      const [expiry, notices] = await Promise.all([
        h.queues.cardExpiry.getJobCounts('waiting', 'prioritized', 'active', 'waiting-children'),
        h.queues.notices.getJobCounts('waiting', 'prioritized', 'active', 'waiting-children'),
      ]);
      return Object.values(expiry).every((n) => n === 0) && Object.values(notices).every((n) => n === 0);
    },
    { timeoutMs, message: 'card-expiry and notice queues to drain' },
  );
  await h.settle(timeoutMs);
}

export async function waitForMail(sink: SmtpSink, count: number, message = `${count} e-mail(s)`): Promise<ReceivedMail[]> {
  await waitFor(() => sink.messages.length >= count, { timeoutMs: 10_000, message });
  return sink.messages;
}

export function mailsTo(sink: SmtpSink, email: string | null): ReceivedMail[] {
  return sink.messages.filter((m) => email !== null && m.to.includes(email));
}

/** The path and query of a link in a notice, to follow with supertest. */
export function linkIn(text: string): string {
  const match = /https?:\/\/[^/\s]+(\/billing\/update-card\?token=[^\s"<]+)/.exec(text);
  if (!match?.[1]) throw new Error('no update-card link in the notice');
  return match[1].replace(/&amp;/g, '&');
}

export const DAY = 86_400_000;
