/**
 * Which Stripe events subgate reacts to, which customer each one is about, and how urgently that
 * customer's refresh should run. An event is only a signal that a customer changed: the refresh re-reads
 * Stripe, so nothing here trusts the payload beyond finding the customer id.
 */
import type Stripe from 'stripe';
import type { StripeEventLike } from './stripe-shapes.js';
import { customerIdOf, isProductId } from './stripe-ids.js';

export type Urgency = 'access' | 'routine';

export interface EventRoute {
  urgency: Urgency;
  /** Finds the customer the event is about; null when the payload names none. */
  customerOf: (event: StripeEventLike) => string | null;
}

export type EventRouting =
  | { kind: 'sync'; customerId: string; urgency: Urgency }
  /** A product changed or went away: its catalog entry (name, features) is read again, once, not per customer. */
  | { kind: 'product'; productId: string; deleted: boolean }
  | { kind: 'no_customer' }
  | { kind: 'ignored' };

type Ref = string | { id?: unknown } | null | undefined;

const field = (event: StripeEventLike, name: string): Ref =>
  (event.data.object as unknown as Record<string, Ref>)[name];

const objectCustomer = (event: StripeEventLike) => customerIdOf(field(event, 'customer'));
const objectItself = (event: StripeEventLike) => customerIdOf(event.data.object.id);
/** payment_method.detached clears `customer`; the previous value says whose it was. */
const customerOrPrevious = (event: StripeEventLike) =>
  objectCustomer(event) ?? customerIdOf(event.data.previous_attributes?.customer);

const route = (urgency: Urgency, customerOf: EventRoute['customerOf']): EventRoute => ({ urgency, customerOf });

export const EVENT_ROUTES = {
  'customer.created': route('routine', objectItself),
  'customer.updated': route('access', objectItself),
  'customer.deleted': route('access', objectItself),
  'customer.subscription.created': route('routine', objectCustomer),
  'customer.subscription.updated': route('access', objectCustomer),
  'customer.subscription.deleted': route('access', objectCustomer),
  'customer.subscription.paused': route('access', objectCustomer),
  'customer.subscription.resumed': route('access', objectCustomer),
  'customer.subscription.trial_will_end': route('routine', objectCustomer),
  'customer.source.created': route('routine', objectCustomer),
  'customer.source.updated': route('access', objectCustomer),
  'customer.source.deleted': route('access', objectCustomer),
  'customer.source.expiring': route('access', objectCustomer),
  'payment_method.attached': route('access', objectCustomer),
  'payment_method.updated': route('access', objectCustomer),
  'payment_method.automatically_updated': route('access', objectCustomer),
  'payment_method.detached': route('access', customerOrPrevious),
  'invoice.paid': route('access', objectCustomer),
  'invoice.payment_succeeded': route('access', objectCustomer),
  'invoice.payment_failed': route('access', objectCustomer),
  'invoice.payment_action_required': route('access', objectCustomer),
  'setup_intent.succeeded': route('access', objectCustomer),
  'checkout.session.completed': route('routine', objectCustomer),
  'charge.failed': route('access', objectCustomer),
  // The customer's features changed (a product's features, or what they bought): the refresh re-reads
  // them; the products they hold are re-read too, at most once a minute each, however many customers.
  'entitlements.active_entitlement_summary.updated': route('access', objectCustomer),
} as const satisfies Partial<Record<Stripe.Event.Type, EventRoute>>;

export type HandledEventType = keyof typeof EVENT_ROUTES;

export function isHandledEventType(type: string): type is HandledEventType {
  return Object.hasOwn(EVENT_ROUTES, type);
}

/** Product events are about the catalog, not a customer. */
export const PRODUCT_EVENT_TYPES = ['product.updated', 'product.deleted'] as const satisfies readonly Stripe.Event.Type[];

export function routeEvent(event: StripeEventLike): EventRouting {
  if ((PRODUCT_EVENT_TYPES as readonly string[]).includes(event.type)) {
    const id = event.data.object.id;
    return isProductId(id) ? { kind: 'product', productId: id, deleted: event.type === 'product.deleted' } : { kind: 'no_customer' };
  }
  if (!isHandledEventType(event.type)) return { kind: 'ignored' };
  const handler: EventRoute = EVENT_ROUTES[event.type];
  const customerId = handler.customerOf(event);
  return customerId === null ? { kind: 'no_customer' } : { kind: 'sync', customerId, urgency: handler.urgency };
}
