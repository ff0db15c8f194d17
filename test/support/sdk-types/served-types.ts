/**
 * The SDK types the Stripe double's objects are checked against, keyed by the `object` value Stripe puts
 * on each. Read by test/support/sdk-shapes.ts through the TypeScript API (this file is that project's only
 * root); a type added to what the double serves is added here.
 */
import type Stripe from 'stripe';

export interface ServedTypes {
  customer: Stripe.Customer | Stripe.DeletedCustomer;
  payment_method: Stripe.PaymentMethod;
  card: Stripe.Card;
  source: Stripe.Source;
  bank_account: Stripe.BankAccount;
  subscription: Stripe.Subscription;
  subscription_item: Stripe.SubscriptionItem;
  invoice: Stripe.Invoice;
  invoice_payment: Stripe.InvoicePayment;
  payment_intent: Stripe.PaymentIntent;
  charge: Stripe.Charge;
  'billing_portal.session': Stripe.BillingPortal.Session;
  event: Stripe.Event;
  setup_intent: Stripe.SetupIntent;
  'checkout.session': Stripe.Checkout.Session;
  product: Stripe.Product | Stripe.DeletedProduct;
  price: Stripe.Price;
  product_feature: Stripe.ProductFeature;
  'entitlements.feature': Stripe.Entitlements.Feature;
  'entitlements.active_entitlement_summary': Stripe.Entitlements.ActiveEntitlementSummary;
  'entitlements.active_entitlement': Stripe.Entitlements.ActiveEntitlement;
}

/** What POST /v1/billing_portal/sessions accepts as flow_data[type]. */
export type PortalFlowType = Stripe.BillingPortal.SessionCreateParams.FlowData.Type;
