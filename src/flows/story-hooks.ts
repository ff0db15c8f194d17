/**
 * Where the customer story listens, without the services it listens to knowing: the entitlement watch,
 * the portal opener and the update-card return are wrapped; the BullMQ workers' completed and failed
 * events tell what the event, refresh, card-expiry and notice jobs did (listeners only, as the metrics
 * do: nothing about how jobs run changes).
 */
import type { Job, Worker } from 'bullmq';
import type { EntitlementWatch } from '../sync/entitlement-watch.js';
import type { OpenPortalSession } from '../billing/portal-sessions.js';
import type { RestoreAccess } from './restore-access.js';
import type { NoticeOutcome } from '../notices/notice-sender.js';
import { JOB, QUEUE, type CardJobData, type ExpirySignalJobData, type NoticeJobData, type StripeEventJobData, type SyncCustomerJobData, type SyncCustomerResult } from '../queues.js';
import type { CustomerStory } from './customer-story.js';
import type { GrantChanges } from './grant-changes.js';
import type { AccessGrant } from '../domain/projection.js';

export function withStoryWatch(watch: EntitlementWatch, story: CustomerStory): EntitlementWatch {
  return {
    async refresh(customerId) {
      const result = await watch.refresh(customerId);
      if (result.outcome === 'published') await story.entitlementChanged(customerId, result.previous, result.next);
      return result;
    },
  };
}

export function withStoryPortal(openPortal: OpenPortalSession, story: CustomerStory): OpenPortalSession {
  return async (customerId, returnUrl) => {
    try {
      const opening = await openPortal(customerId, returnUrl);
      await story.linkOpened(customerId, opening);
      return opening;
    } catch (err) {
      await story.linkOpened(customerId, { kind: 'failed' });
      throw err;
    }
  };
}

export function withStoryReturn(restoreAccess: RestoreAccess, story: CustomerStory): RestoreAccess {
  return async (customerId) => {
    await story.returned(customerId);
    await restoreAccess(customerId);
  };
}

/**
 * Grants on the story of every customer they count for (a user's grant: each of the user's customers), so
 * support reading a reader's page sees why a feature is open that no subscription pays for.
 */
export function withStoryGrants(
  changes: GrantChanges,
  story: CustomerStory,
  customersOf: (grant: Pick<AccessGrant, 'customer' | 'user'>) => Promise<string[]>,
): GrantChanges {
  const tell = async (grant: Pick<AccessGrant, 'customer' | 'user'>, text: string, fields: Record<string, string | null>) => {
    for (const customerId of await customersOf(grant)) await story.record(customerId, { kind: 'grant', text, fields });
  };
  return {
    async create(grant) {
      await changes.create(grant);
      await tell(grant, `Grant of ${grant.feature} until ${iso(grant.until)}: ${grant.reason}`, { grant: grant.id, feature: grant.feature, by: grant.created_by });
    },
    async revoke(id) {
      const revoked = await changes.revoke(id);
      if (revoked) await tell(revoked, `Grant of ${revoked.feature} revoked`, { grant: revoked.id, feature: revoked.feature });
      return revoked;
    },
    async runGrantEnd(data) {
      const result = await changes.runGrantEnd(data);
      if (result.outcome === 'grant_ended') await tell({ customer: data.customerId, user: data.user }, 'Grant ended', { grant: data.grantId });
      return result;
    },
  };
}

const iso = (ms: unknown) => (typeof ms === 'number' && Number.isFinite(ms) ? new Date(ms).toISOString() : null);

type AnyWorker = Worker<unknown, unknown, string>;

/** Listens to the workers of one process (null entries skipped). */
export function attachJobStory(workers: readonly (AnyWorker | null)[], story: CustomerStory): void {
  for (const worker of workers) {
    if (!worker) continue;
    if (worker.name === QUEUE.stripeEvents) {
      worker.on('completed', (job: Job) => void eventDone(job as Job<StripeEventJobData>, story));
    } else if (worker.name === QUEUE.customerSync) {
      worker.on('completed', (job: Job) => void syncDone(job as Job<SyncCustomerJobData, SyncCustomerResult>, story));
      worker.on('failed', (job: Job | undefined, err: Error) => {
        const data = job?.data as SyncCustomerJobData | undefined;
        if (data?.customerId) void story.record(data.customerId, { kind: 'refresh', text: `Refresh from Stripe failed (${err.message.slice(0, 160)}); it is retried`, fields: { asked_by: data.reason } });
      });
    } else if (worker.name === QUEUE.cardExpiry) {
      worker.on('completed', (job: Job) => void expiryDone(job, story));
    } else if (worker.name === QUEUE.notices) {
      worker.on('completed', (job: Job) => void noticeDone(job as Job<NoticeJobData, NoticeOutcome>, story));
      worker.on('failed', (job: Job | undefined, err: Error) => {
        if (!job) return;
        const data = job.data as NoticeJobData;
        const final = job.attemptsMade >= (job.opts.attempts ?? 1) || err.name === 'UnrecoverableError' || /rejected permanently/.test(err.message);
        void story.record(data.customerId, {
          kind: 'notice',
          text: `Notice ${data.kind} ${final ? 'failed for good' : 'failed; it is retried'}: ${err.message.slice(0, 200)}`,
          fields: { kind: data.kind, window: data.window || null, attempt: job.attemptsMade },
        });
      });
    }
  }
}

async function eventDone(job: Job<StripeEventJobData>, story: CustomerStory): Promise<void> {
  const result = job.returnvalue as { outcome?: string; customerId?: string } | null;
  if (!result?.customerId) return;
  const carried = ('digest' in job.data ? job.data.digest : job.data.event) as { id?: string; type?: string };
  await story.record(result.customerId, {
    kind: 'event',
    text: `Stripe event ${carried.type ?? '?'} received: ${result.outcome === 'refresh_covered' ? 'its companion event asks for the refresh' : 'refresh requested'}`,
    fields: { event: carried.id ?? null, type: carried.type ?? null, received_at: iso(job.data.receivedAt), outcome: result.outcome ?? null },
    ...(typeof job.data.receivedAt === 'number' ? { at: job.data.receivedAt } : {}),
  });
}

async function syncDone(job: Job<SyncCustomerJobData, SyncCustomerResult>, story: CustomerStory): Promise<void> {
  const result = job.returnvalue;
  // A written refresh tells its own story (what changed) from the after-write hook.
  if (!result || result.outcome === 'written') return;
  await story.record(result.customerId, {
    kind: 'refresh',
    text: result.outcome === 'stale' ? 'Refresh read older than what is stored: kept the newer' : 'Stripe no longer knows this customer: recorded as deleted',
    fields: { asked_by: job.data.reason, event: job.data.eventId ?? null },
  });
}

async function expiryDone(job: Job, story: CustomerStory): Promise<void> {
  const result = job.returnvalue as { outcome?: string; source?: string; windowDays?: number; declineCode?: string } | null;
  const outcome = result?.outcome;
  if (!outcome) return;
  const data = job.data as Partial<CardJobData> & Partial<ExpirySignalJobData>;
  const customerId = data.customerId ?? data.signal?.customerId;
  if (!customerId) return;
  const card: Record<string, string> = data.cardId ? { card: data.cardId, expiry: `${String(data.exp_month).padStart(2, '0')}/${data.exp_year}` } : {};
  if (outcome === 'flagged') {
    await story.cardProblem(customerId, 'expired', { kind: 'card_flag', text: `Card flagged expired (${result.source ?? job.name})`, fields: { job: job.name, ...card } });
  } else if (outcome === 'honoured') {
    await story.record(customerId, { kind: 'card_honoured', text: 'A payment after the card\'s expiry proved it still pays: expiry flag honoured', fields: { job: job.name } });
  } else if (outcome === 'notice_queued') {
    await story.cardProblem(customerId, 'expiring', { kind: 'card_expiry', text: `Card expires within ${result.windowDays ?? '?'} days: notice queued`, fields: { job: job.name, ...card } });
  } else if (outcome === 'payment_failed_notice') {
    await story.cardProblem(customerId, 'failed_payment', { kind: 'card_expiry', text: `Payment failed (${result.declineCode ?? 'declined'}): notice queued`, fields: { job: job.name } });
  } else if (job.name === JOB.graceEnd || job.name === JOB.pastDueGraceEnd) {
    await story.record(customerId, { kind: 'card_expiry', text: `Grace period end checked: ${outcome}`, fields: { job: job.name } });
  }
}

async function noticeDone(job: Job<NoticeJobData, NoticeOutcome>, story: CustomerStory): Promise<void> {
  const data = job.data;
  const result = job.returnvalue;
  if (!result) return;
  const fields = { kind: data.kind, window: data.window || null };
  if (result.outcome === 'sent') {
    await story.noticeSent(data, {
      kind: 'notice',
      text: `Notice ${data.kind} sent`,
      fields: { ...fields, outcome: 'sent', message_id: result.messageId, smtp_response: result.response },
    });
  } else if (result.outcome === 'skipped') {
    await story.record(data.customerId, { kind: 'notice', text: `Notice ${data.kind} not sent: ${result.reason.replace(/_/g, ' ')}`, fields: { ...fields, outcome: 'skipped' } });
  } else {
    await story.record(data.customerId, { kind: 'notice', text: `Notice ${data.kind} already ${result.state}: not sent again`, fields: { ...fields, outcome: 'duplicate' } });
  }
}
