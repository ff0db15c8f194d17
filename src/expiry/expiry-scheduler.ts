/**
 * Puts a customer's card-expiry plan into BullMQ as delayed jobs with deterministic ids (see
 * domain/expiry-plan.ts), so scheduling again after every refresh, or from the sweep, never multiplies
 * them. Only jobs due within the horizon are added: years-ahead jobs would sit in Redis for years, one
 * set per subscriber; the daily sweep adds each card's jobs as they come within the horizon.
 */
import type { Clock, CustomerProjection } from '../domain/projection.js';
import { billedCards, planExpiryJobs, planPastDueGraceEnds, type BilledCard, type PlannedExpiryJob } from '../domain/expiry-plan.js';
import { isFlagged, isHonoured } from '../domain/card-marks.js';
import { DAY_MS } from '../domain/card-expiry.js';
import { JOB, type CardExpiryJobName, type Producers, type ScheduledJob } from '../queues.js';

export interface ExpiryScheduler {
  /** Plans every card billing this customer; returns how many jobs were handed to BullMQ. */
  scheduleFor(projection: CustomerProjection): Promise<number>;
  /** Plans one card (e.g. from customer.source.expiring). */
  scheduleCard(customerId: string, card: BilledCard): Promise<number>;
  /** The jobs scheduleFor would add, without adding them (the sweep batches many customers). */
  planFor(projection: CustomerProjection, via?: 'schedule' | 'sweep'): ScheduledJob[];
  add(jobs: readonly ScheduledJob[]): Promise<number>;
  readonly horizonMs: number;
}

export interface ExpirySchedulerDeps {
  producers: Pick<Producers, 'cardExpiryJobs'>;
  clock: Clock;
  noticeDays: readonly number[];
  graceDays: number;
  /** PAST_DUE_GRACE_DAYS: its end changes the answer with no event, so it gets a job too. */
  pastDueGraceDays?: number;
  /** How far ahead to add jobs; default: the widest window plus three days of slack for the daily sweep. */
  horizonMs?: number;
}

const JOB_NAME: Record<PlannedExpiryJob['kind'], CardExpiryJobName> = {
  notice: JOB.expiryNotice,
  expire: JOB.expiryCheck,
  grace_end: JOB.graceEnd,
};

export function createExpiryScheduler(deps: ExpirySchedulerDeps): ExpiryScheduler {
  const horizonMs = deps.horizonMs ?? (Math.max(0, ...deps.noticeDays) + 3) * DAY_MS;

  function planCard(customerId: string, card: BilledCard, now: number, via: 'schedule' | 'sweep' = 'schedule'): ScheduledJob[] {
    return planExpiryJobs({ customerId, card, noticeDays: deps.noticeDays, graceDays: deps.graceDays, now })
      .filter((job) => job.runAt <= now + horizonMs)
      .map((job) => ({
        name: JOB_NAME[job.kind],
        jobId: job.jobId,
        runAt: job.runAt,
        data: { customerId, cardId: card.id, exp_month: card.exp_month, exp_year: card.exp_year, windowDays: job.windowDays, via },
      }));
  }

  const add = (jobs: readonly ScheduledJob[]) => deps.producers.cardExpiryJobs(jobs);

  function planFor(projection: CustomerProjection, via: 'schedule' | 'sweep' = 'schedule'): ScheduledJob[] {
    const now = deps.clock.now();
    const marks = projection.expiry_marks;
    // A card already flagged or proven to pay has had its expiry handled: only a grace end may remain.
    const cardJobs = billedCards(projection).flatMap((card) =>
      planCard(projection.customer, card, now, via).filter(
        (job) => job.name === JOB.graceEnd || !(isFlagged(card, marks) || isHonoured(card, marks)),
      ),
    );
    if (deps.pastDueGraceDays === undefined) return cardJobs;
    const pastDueJobs = planPastDueGraceEnds({
      customerId: projection.customer,
      subscriptions: projection.subscriptions,
      pastDueGraceDays: deps.pastDueGraceDays,
      now,
    }).map(({ subscriptionId, runAt, jobId }) => ({
      name: JOB.pastDueGraceEnd,
      jobId,
      runAt,
      data: { customerId: projection.customer, subscriptionId },
    }));
    return [...cardJobs, ...pastDueJobs];
  }

  return {
    horizonMs,
    planFor,
    add,
    scheduleFor: (projection) => add(planFor(projection)),
    scheduleCard: (customerId, card) => add(planCard(customerId, card, deps.clock.now())),
  };
}
