/**
 * Missed-event recovery: lists the events Stripe created since the newest one seen (Stripe keeps them 30
 * days) and feeds each through acceptEvent, the webhook's own ledger + queue path, so an event that did
 * arrive is a duplicate and nothing else happens. Covers an endpoint that was down longer than Stripe
 * retries, a disabled endpoint, or a secret that was wrong for a while.
 */
import type { Logger } from '../logger.js';
import type { Clock } from '../domain/projection.js';
import type { StripeLists } from '../adapters/stripe-lists.js';
import type { EventRecoveryStore } from '../store/event-recovery-store.js';
import type { AcceptEvent } from '../sync/accept-event.js';

/** Stripe keeps events 30 days; asking for older ones is pointless. */
const STRIPE_EVENT_RETENTION_S = 30 * 24 * 60 * 60;

export interface EventRecoveryDeps {
  source: Pick<StripeLists, 'events'>;
  acceptEvent: AcceptEvent;
  checkpoints: EventRecoveryStore;
  clock: Clock;
  logger: Logger;
  /** How far back the first run looks, in seconds (default 3 days). */
  firstRunLookbackS?: number;
  /** Re-read this many seconds before the newest event seen: events of one second can arrive in any order. */
  overlapS?: number;
}

export interface RecoveryResult {
  /** Stripe seconds the listing started from. */
  since: number;
  listed: number;
  recovered: number;
  already_seen: number;
  /** Event ids this run enqueued (at most the first 100, for the job's result). */
  recovered_ids: string[];
}

export type RecoverEvents = () => Promise<RecoveryResult>;

export function createEventRecovery(deps: EventRecoveryDeps): RecoverEvents {
  const log = deps.logger.child({ component: 'event-recovery' });
  const lookback = deps.firstRunLookbackS ?? 3 * 24 * 60 * 60;
  const overlap = deps.overlapS ?? 300;

  return async function recoverEvents() {
    const now = deps.clock.now();
    const nowS = Math.floor(now / 1000);
    const previous = await deps.checkpoints.get();
    const since = Math.max(nowS - STRIPE_EVENT_RETENTION_S, previous ? previous.newest_created - overlap : nowS - lookback);
    const result: RecoveryResult = { since, listed: 0, recovered: 0, already_seen: 0, recovered_ids: [] };
    let newest = previous?.newest_created ?? since;
    for await (const event of deps.source.events(since)) {
      result.listed += 1;
      newest = Math.max(newest, event.created);
      const outcome = await deps.acceptEvent(event, now);
      if (outcome === 'accepted') {
        result.recovered += 1;
        if (result.recovered_ids.length < 100) result.recovered_ids.push(event.id);
        log.info({ eventId: event.id, type: event.type }, 'missed event recovered');
      } else {
        result.already_seen += 1;
      }
    }
    await deps.checkpoints.save({ newest_created: newest, last_run_at: now, last_listed: result.listed, last_recovered: result.recovered });
    log.info({ since, listed: result.listed, recovered: result.recovered }, 'event recovery finished');
    return result;
  };
}
