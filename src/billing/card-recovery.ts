/**
 * Makes a reader's new card count at once: Stripe retries a failed invoice with the subscription's own
 * default_payment_method before the customer's default, and the portal only sets the customer's. So the
 * new default card is set on every active/past_due subscription charged to another card, and the open
 * invoice of a past_due one is paid now. Switched by NEW_CARD_RECOVERY (default on).
 */
import type { Logger } from '../logger.js';
import type { Clock, CustomerProjection } from '../domain/projection.js';
import { planCardRecovery } from '../domain/card-update.js';
import type { StripeBilling } from '../adapters/stripe-billing.js';

export interface RecoveryResult {
  /** Subscriptions now pointed at the new card. */
  moved: string[];
  paid: string[];
  /** Invoices the new card could not pay, with the decline code. */
  declined: Array<{ invoice: string; code: string }>;
  /** Whether Stripe changed, so a refresh should follow. */
  changed: boolean;
}

export interface CardRecovery {
  applyNewCard(projection: CustomerProjection): Promise<RecoveryResult>;
}

const NOTHING: RecoveryResult = { moved: [], paid: [], declined: [], changed: false };

export function createCardRecovery(deps: {
  billing: Pick<StripeBilling, 'setSubscriptionCard' | 'listOpenInvoices' | 'payInvoice'>;
  enabled: boolean;
  clock: Clock;
  logger: Logger;
}): CardRecovery {
  const log = deps.logger.child({ component: 'card-recovery' });
  return {
    async applyNewCard(projection) {
      if (!deps.enabled) return NOTHING;
      const plan = planCardRecovery(projection, deps.clock.now());
      if (plan === null) return NOTHING;
      const result: RecoveryResult = { moved: [], paid: [], declined: [], changed: false };
      for (const subscriptionId of plan.moveSubscriptions) {
        await deps.billing.setSubscriptionCard(subscriptionId, plan.cardId);
        result.moved.push(subscriptionId);
      }
      if (plan.payForSubscriptions.length > 0) {
        const open = await deps.billing.listOpenInvoices(projection.customer);
        for (const invoice of open) {
          if (invoice.subscriptionId === null || !plan.payForSubscriptions.includes(invoice.subscriptionId)) continue;
          // Keyed by invoice and card: a retry of this recovery replays Stripe's answer instead of charging twice.
          const outcome = await deps.billing.payInvoice(invoice.id, `subgate-pay-${invoice.id}-${plan.cardId}`);
          if (outcome.paid) result.paid.push(invoice.id);
          else result.declined.push({ invoice: invoice.id, code: outcome.declineCode });
        }
      }
      result.changed = result.moved.length > 0 || result.paid.length > 0;
      log.info(
        { customerId: projection.customer, moved: result.moved.length, paid: result.paid.length, declined: result.declined.length },
        'new card applied',
      );
      return result;
    },
  };
}
