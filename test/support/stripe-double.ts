/**
 * A local HTTP test double of the Stripe API. It holds Stripe's "current truth" for each object, and the
 * real `stripe` SDK talks to it over HTTP, so tests cover the SDK's request encoding, expansion, pagination
 * and error mapping rather than a hand-written mock of the client. It answers only what subgate reads and
 * writes (customers, payment methods, sources, subscriptions, invoices and their payments, payment intents,
 * charges, portal sessions, events, and the catalog: products, prices, product features) and, unlike Stripe, never changes objects on its own: tests drive time,
 * collection attempts and webhooks explicitly (put*, attemptInvoicePayment, makeEvent).
 *
 * It answers in the installed SDK's pinned API version only (Stripe.API_VERSION): a request for another
 * version is refused, and an object carrying a field only an older version had is refused at put*. Older
 * versions exist only in webhooks: makeEvent renders its object for the event's api_version, as Stripe
 * renders an event for its endpoint's version (test/fixtures/legacy-shapes.ts). Every route's answers are
 * checked against the SDK's types by test/integration/stripe-shapes.test.ts.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import {
  billingPortalSessionFixture,
  CURRENT_API_VERSION,
  eventFixture,
  LEGACY_API_VERSION,
  nextTestId,
  type BillingPortalSessionObject,
  type EventObject,
  type EventOptions,
  type StripeJson,
  type StripeList,
} from '../fixtures/stripe-objects.js';
import { legacyFieldsOf, renderLegacy } from '../fixtures/legacy-shapes.js';
import { createPaymentBook, type AttemptResult, type Decline } from './stripe-double-payments.js';

/** One request as the double received it; `query` and `body` are parsed into nested objects/arrays. */
export interface RecordedRequest {
  method: string;
  /** Path without the query string, e.g. `/v1/customers/cus_123`. */
  path: string;
  query: StripeJson;
  body: StripeJson;
  headers: IncomingHttpHeaders;
  /** Wall-clock ms when received (real time, not the injected `now`, so tests can measure pacing). */
  at: number;
  /** Status the double answered with; undefined while in flight or when the connection was reset. */
  status?: number;
  /** The JSON body it answered with (what the shape test checks against the SDK's types). */
  response?: unknown;
  /** The route that answered, as `METHOD /path/:param`; undefined when none matched. */
  route?: string;
}

/** Selects requests: a predicate, or a method and exact/regex path. */
export type RequestMatcher = ((req: RecordedRequest) => boolean) | { method?: string; path?: string | RegExp };

/**
 * Statuses failNext can inject. 'reset' drops the TCP connection without a response (a network failure);
 * 402 answers a card decline.
 */
export type FaultStatus = 402 | 429 | 500 | 502 | 503 | 504 | 'reset';

/** One injected failure rule; see StripeDouble.failNext. */
export interface FaultOptions {
  status: FaultStatus;
  /** Only requests for which this returns true consume the fault; others pass through untouched. */
  match?: RequestMatcher;
  /** Sent as `Retry-After` (seconds). Note: stripe-node ignores it; only our own code can honour it. */
  retryAfter?: number;
  /**
   * Value of `Stripe-Should-Retry`. Defaults to false so an SDK built with maxNetworkRetries > 0 surfaces
   * the error instead of silently retrying; set true to exercise the SDK's own retry loop.
   */
  shouldRetry?: boolean;
  /** Replaces the generated `error` object's fields. */
  error?: StripeJson;
}

/** Construction options; all optional. */
export interface StripeDoubleOptions {
  /** Clock (ms) for timestamps the double writes (events, portal sessions, payments) and for sign(). */
  now?: () => number;
  /** If set, only this exact secret key is accepted; otherwise any well-formed sk_/rk_ key is. */
  apiKey?: string;
  /** Initial artificial latency per request, in ms. */
  latencyMs?: number;
}

/** A portal session the service created, kept so tests can assert what it asked Stripe for. */
export interface PortalSessionRecord {
  session: BillingPortalSessionObject;
  /** The parsed form params the SDK sent, e.g. `params.flow_data.type`. */
  params: StripeJson;
}

/** What startStripeDouble resolves to: the server, its state, and the knobs tests turn. */
export interface StripeDouble {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
  /** A real SDK client pointed at this double (no retries unless you ask for them). */
  client(opts?: Stripe.StripeConfig & { apiKey?: string }): Stripe;

  putCustomer<T extends StripeJson>(obj: T): T;
  putPaymentMethod<T extends StripeJson>(obj: T): T;
  putSource<T extends StripeJson>(obj: T): T;
  putSubscription<T extends StripeJson>(obj: T): T;
  putInvoice<T extends StripeJson>(obj: T): T;
  /** Stores a charge (e.g. a failed one whose decline code an invoice.payment_failed handler looks up). */
  putCharge<T extends StripeJson>(obj: T): T;
  putPaymentIntent<T extends StripeJson>(obj: T): T;
  putInvoicePayment<T extends StripeJson>(obj: T): T;
  /** The catalog: products, prices (with lookup_key), Entitlements features and their attachment to products. */
  putProduct<T extends StripeJson>(obj: T): T;
  putPrice<T extends StripeJson>(obj: T): T;
  putEntitlementFeature<T extends StripeJson>(obj: T): T;
  /** Attaches a feature to a product (a product_feature); returns the attachment. */
  attachFeature(productId: string, feature: StripeJson): StripeJson;
  /** Removes a product_feature by its id. */
  detachFeature(productFeatureId: string): void;
  getCustomer(id: string): StripeJson | undefined;
  getPaymentMethod(id: string): StripeJson | undefined;
  getSource(id: string): StripeJson | undefined;
  getSubscription(id: string): StripeJson | undefined;
  getInvoice(id: string): StripeJson | undefined;
  getCharge(id: string): StripeJson | undefined;
  getPaymentIntent(id: string): StripeJson | undefined;
  /** The invoice's payments, default first (what `expand[]=payments` lists). */
  invoicePaymentsOf(invoiceId: string): StripeJson[];
  /**
   * Stripe's own collection attempt of an open invoice (a renewal, a retry), with what the subscription or
   * customer charges: a card whose test number or expiry declines leaves a failed charge and the decline on
   * the invoice's payment intent, else the invoice is paid. Subscription statuses are left to the test.
   */
  attemptInvoicePayment(invoiceId: string): AttemptResult & { invoice: StripeJson; declined: boolean };
  /** Stripe-deletes a customer: retrieve then answers `{id, object:'customer', deleted:true}`. */
  deleteCustomer(id: string, opts?: { cancelSubscriptions?: boolean }): void;
  /** Forgets a customer entirely: retrieve then answers 404 resource_missing. */
  forgetCustomer(id: string): void;
  /** Forgets any stored object by id (404 afterwards). */
  forget(id: string): void;

  failNext(count: number, opts: FaultOptions): void;
  clearFaults(): void;
  setLatency(ms: number): void;

  readonly requests: RecordedRequest[];
  /** Every route the double answers, as `METHOD /path/:param`. */
  readonly routes: readonly string[];
  /** The flow_data[type] values a portal session accepts (the SDK's FlowData.Type, checked by the shape test). */
  readonly portalFlowTypes: readonly string[];
  count(match?: RequestMatcher): number;
  resetRequests(): void;
  readonly portalSessions: PortalSessionRecord[];

  /**
   * An event about `object` (a pinned-version object), rendered in `opts.api_version` (default the pinned
   * one; LEGACY_API_VERSION renders it as a 2020-08-27 endpoint receives it) and kept for GET /v1/events.
   */
  makeEvent<T extends StripeJson>(type: string, object: T, opts?: EventOptions): EventObject<T>;
  /** Serialises the event as Stripe does (2-space JSON) and signs it; timestamp in Unix seconds. */
  sign(event: unknown, secret: string, opts?: { timestamp?: number }): { payload: string; header: string };
  /** Signs exact bytes (malformed JSON, empty bodies) and returns the `Stripe-Signature` header value. */
  signPayload(payload: string, secret: string, opts?: { timestamp?: number }): string;

  /** Clears all objects, events, portal sessions, faults, latency and the request log. */
  reset(): void;
}

/** flow_data[type] values POST /v1/billing_portal/sessions accepts (the SDK's SessionCreateParams.FlowData.Type). */
const PORTAL_FLOW_TYPES: readonly string[] = [
  'customer_update',
  'payment_method_update',
  'subscription_cancel',
  'subscription_pause',
  'subscription_update',
  'subscription_update_confirm',
];

// ---------------------------------------------------------------------------------------------------------
// Form / query parsing
// ---------------------------------------------------------------------------------------------------------

const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Parses `a[b][0]=x&expand[]=y` the way Stripe reads the SDK's encoding: brackets nest, numeric or empty
 * brackets make arrays, and a repeated plain key becomes an array. Values stay strings, as on the wire.
 */
export function parseStripeForm(text: string): StripeJson {
  const root: StripeJson = {};
  for (const [rawKey, value] of new URLSearchParams(text)) {
    const m = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(rawKey);
    const segs = m ? [m[1]!, ...[...m[2]!.matchAll(/\[([^[\]]*)\]/g)].map((x) => x[1]!)] : [rawKey];
    if (segs.some((s) => UNSAFE_KEYS.has(s))) continue;
    let node: StripeJson = root;
    for (let i = 0; i < segs.length; i += 1) {
      const seg = segs[i]!;
      const key = seg === '' ? String(Object.keys(node).length) : seg;
      if (i === segs.length - 1) {
        if (segs.length === 1 && key in node) {
          // `expand=a&expand=b`: repeated plain key.
          node[key] = Array.isArray(node[key]) ? [...node[key], value] : [node[key], value];
        } else {
          node[key] = value;
        }
      } else {
        if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
        node = node[key] as StripeJson;
      }
    }
  }
  return arrayify(root) as StripeJson;
}

// Objects whose keys are exactly 0..n-1 were arrays on the wire (`expand[0]`, `items[1][price]`).
function arrayify(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(arrayify);
  if (typeof value !== 'object' || value === null) return value;
  const obj = value as StripeJson;
  const keys = Object.keys(obj);
  for (const k of keys) obj[k] = arrayify(obj[k]);
  if (keys.length > 0 && keys.every((k, i) => k === String(i))) return keys.map((k) => obj[k]);
  return obj;
}

function toArray(value: unknown): string[] {
  if (value === undefined || value === null || value === '') return [];
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === 'object') return Object.values(value as StripeJson).map(String);
  return [String(value)];
}

// ---------------------------------------------------------------------------------------------------------
// Errors in Stripe's wire shape
// ---------------------------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly error: StripeJson,
    readonly headers: Record<string, string> = {},
  ) {
    super(String(error.message ?? 'error'));
  }
}

const DOCS = 'https://stripe.com/docs/error-codes';

function missing(kind: string, id: string, param = 'id', status = 404): ApiError {
  return new ApiError(status, {
    code: 'resource_missing',
    doc_url: `${DOCS}/resource-missing`,
    message: `No such ${kind}: '${id}'`,
    param,
    type: 'invalid_request_error',
  });
}

function invalid(message: string, extra: StripeJson = {}): ApiError {
  return new ApiError(400, { message, type: 'invalid_request_error', ...extra });
}

function cardDeclined(code: string, declineCode: string | null, message: string, extra: StripeJson = {}): ApiError {
  const error: StripeJson = { code, doc_url: `${DOCS}/${code.replace(/_/g, '-')}`, message, type: 'card_error', ...extra };
  if (declineCode) error.decline_code = declineCode;
  return new ApiError(402, error);
}

function faultError(status: Exclude<FaultStatus, 'reset'>): StripeJson {
  switch (status) {
    case 429:
      // Real rate-limit responses are invalid_request_error + code rate_limit; the SDK keys off the 429.
      return {
        code: 'rate_limit',
        doc_url: `${DOCS}/rate-limit`,
        message:
          'Request rate limit exceeded. You can learn more about rate limits here https://stripe.com/docs/rate-limits.',
        type: 'invalid_request_error',
      };
    case 402:
      return {
        code: 'card_declined',
        decline_code: 'generic_decline',
        doc_url: `${DOCS}/card-declined`,
        message: 'Your card was declined.',
        type: 'card_error',
      };
    case 500:
      return { message: 'An unknown error occurred', type: 'api_error' };
    default:
      return { message: 'The server is temporarily unavailable. Please try again later.', type: 'api_error' };
  }
}

// ---------------------------------------------------------------------------------------------------------
// Ordering, filtering, pagination
// ---------------------------------------------------------------------------------------------------------

// Stripe lists newest first; ids break ties (numeric-aware so `_0010` sorts after `_0009`).
function compareDesc(a: StripeJson, b: StripeJson): number {
  const dc = Number(b.created ?? 0) - Number(a.created ?? 0);
  if (dc !== 0) return dc;
  return String(b.id).localeCompare(String(a.id), 'en', { numeric: true });
}

function matchesRange(value: unknown, filter: unknown): boolean {
  if (filter === undefined) return true;
  const v = Number(value);
  if (typeof filter !== 'object' || filter === null) return v === Number(filter);
  const f = filter as StripeJson;
  if (f.gt !== undefined && !(v > Number(f.gt))) return false;
  if (f.gte !== undefined && !(v >= Number(f.gte))) return false;
  if (f.lt !== undefined && !(v < Number(f.lt))) return false;
  if (f.lte !== undefined && !(v <= Number(f.lte))) return false;
  return true;
}

function idOf(ref: unknown): string | null {
  if (typeof ref === 'string') return ref;
  if (ref && typeof ref === 'object' && typeof (ref as StripeJson).id === 'string') return (ref as StripeJson).id;
  return null;
}

// The pinned version keeps an invoice's subscription under parent, and the billing period on the items.
function invoiceSubscriptionId(inv: StripeJson): string | null {
  return idOf(inv.parent?.subscription_details?.subscription);
}

function periodEndOf(sub: StripeJson): number | null {
  const ends = (sub.items?.data ?? [])
    .map((i: StripeJson) => i.current_period_end)
    .filter((n: unknown): n is number => typeof n === 'number');
  return ends.length ? Math.min(...ends) : null;
}

function isExpired(card: StripeJson, nowMs: number): boolean {
  const d = new Date(nowMs);
  const y = Number(card.exp_year);
  const m = Number(card.exp_month);
  return y < d.getUTCFullYear() || (y === d.getUTCFullYear() && m < d.getUTCMonth() + 1);
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// ---------------------------------------------------------------------------------------------------------
// The double
// ---------------------------------------------------------------------------------------------------------

interface Route {
  method: string;
  path: string;
  pattern: RegExp;
  handler: (ctx: RouteContext) => { status?: number; body: unknown } | Promise<{ status?: number; body: unknown }>;
}

interface RouteContext {
  req: RecordedRequest;
  params: string[];
  /** Union of `expand` from the query and (for POSTs) the body. */
  expand: string[];
  /** Merged query + body, for handlers that do not care where a param came from. */
  input: StripeJson;
}

interface Fault extends FaultOptions {
  remaining: number;
}

interface IdempotentResult {
  fingerprint: string;
  status: number;
  body: unknown;
}

function matcherFn(match: RequestMatcher | undefined): (r: RecordedRequest) => boolean {
  if (!match) return () => true;
  if (typeof match === 'function') return match;
  return (r) =>
    (match.method === undefined || r.method === match.method.toUpperCase()) &&
    (match.path === undefined ||
      (typeof match.path === 'string' ? r.path === match.path : match.path.test(r.path)));
}

/**
 * Starts the double on 127.0.0.1 with an ephemeral port. Each instance has its own state, so parallel
 * test files never see each other's objects.
 */
export async function startStripeDouble(opts: StripeDoubleOptions = {}): Promise<StripeDouble> {
  const now = opts.now ?? (() => Date.now());
  const unix = () => Math.floor(now() / 1000);

  const customers = new Map<string, StripeJson>();
  const deletedCustomers = new Set<string>();
  const paymentMethods = new Map<string, StripeJson>();
  const sources = new Map<string, StripeJson>();
  const subscriptions = new Map<string, StripeJson>();
  const invoices = new Map<string, StripeJson>();
  const charges = new Map<string, StripeJson>();
  const payments = createPaymentBook({ charges, unix });
  const { paymentIntents, invoicePayments } = payments;
  const events = new Map<string, StripeJson>();
  const products = new Map<string, StripeJson>();
  const prices = new Map<string, StripeJson>();
  const entitlementFeatures = new Map<string, StripeJson>();
  /** product_feature id -> { product id, feature id }: the feature is embedded as it is when served. */
  const productFeatures = new Map<string, { product: string; feature: string; id: string }>();
  const portalSessions: PortalSessionRecord[] = [];
  const requests: RecordedRequest[] = [];
  const idempotency = new Map<string, IdempotentResult>();
  let faults: Fault[] = [];
  let latencyMs = opts.latencyMs ?? 0;
  let baseUrl = '';

  // --- lookups -------------------------------------------------------------------------------------------

  const deletedStub = (id: string) => ({ id, object: 'customer', deleted: true });

  const liveCustomer = (id: string, param = 'id', status = 404): StripeJson => {
    const c = customers.get(id);
    if (!c || deletedCustomers.has(id)) throw missing('customer', id, param, status);
    return c;
  };

  // What an id string expands to. The field name picks between PaymentMethods and legacy sources, since a
  // `card_…` id can be either depending on which API created it.
  const resolve = (id: string, field: string): StripeJson | undefined => {
    if (customers.has(id)) return deletedCustomers.has(id) ? deletedStub(id) : clone(customers.get(id)!);
    const sourceFirst = field === 'default_source' || field === 'source';
    const order = sourceFirst
      ? [sources, paymentMethods, subscriptions, invoices, paymentIntents, charges, invoicePayments, events]
      : [paymentMethods, sources, subscriptions, invoices, paymentIntents, charges, invoicePayments, events];
    for (const store of order) {
      const hit = store.get(id);
      if (hit) return clone(hit);
    }
    return undefined;
  };

  const anyObject = (id: string): StripeJson | undefined =>
    customers.get(id) ??
    paymentMethods.get(id) ??
    sources.get(id) ??
    subscriptions.get(id) ??
    invoices.get(id) ??
    paymentIntents.get(id) ??
    charges.get(id) ??
    invoicePayments.get(id) ??
    events.get(id) ??
    portalSessions.find((p) => p.session.id === id)?.session;

  // Sublists Stripe only includes on a customer when expanded (since 2020-08-27).
  const customerSublist = (customer: StripeJson, field: string): StripeList | undefined => {
    const id = String(customer.id);
    let data: StripeJson[];
    if (field === 'subscriptions') {
      data = [...subscriptions.values()].filter(
        (s) => idOf(s.customer) === id && s.status !== 'canceled' && s.status !== 'incomplete_expired',
      );
    } else if (field === 'sources') {
      data = [...sources.values()].filter((s) => idOf(s.customer) === id);
    } else if (field === 'tax_ids') {
      data = [];
    } else {
      return undefined;
    }
    data = data.sort(compareDesc).map(clone);
    return { object: 'list', data, has_more: false, url: `/v1/customers/${id}/${field}` };
  };

  // An invoice's payments are an includable list: only there when expanded (`expand[]=payments`).
  const invoiceSublist = (invoice: StripeJson, field: string): StripeList | undefined => {
    if (field !== 'payments') return undefined;
    const data = payments.paymentsOf(String(invoice.id));
    return { object: 'list', data, has_more: false, url: `/v1/invoice_payments?invoice=${invoice.id}` };
  };

  // Like Stripe, a path naming a property the object does not have is a 400: that catches the classic
  // mistake of expanding `default_payment_method` on a list instead of `data.default_payment_method`.
  const cannotExpand = (path: string) =>
    invalid(`This property cannot be expanded (${path}).`, { param: 'expand' });

  const expandOne = (value: StripeJson, segs: string[], path: string): StripeJson => {
    const [seg, ...rest] = segs;
    if (seg === undefined || value.deleted) return value;
    if (value.object === 'list' && seg === 'data' && Array.isArray(value.data)) {
      value.data = value.data.map((item: unknown) =>
        item && typeof item === 'object' ? expandOne(item as StripeJson, rest, path) : item,
      );
      return value;
    }
    let child: unknown = value[seg];
    if (child === undefined && value.object === 'customer') child = customerSublist(value, seg);
    if (child === undefined && value.object === 'invoice') child = invoiceSublist(value, seg);
    if (child === undefined || typeof child === 'number' || typeof child === 'boolean' || Array.isArray(child)) {
      throw cannotExpand(path);
    }
    if (typeof child === 'string') child = resolve(child, seg) ?? child;
    if (rest.length > 0 && child && typeof child === 'object') {
      child = expandOne(child as StripeJson, rest, path);
    }
    value[seg] = child;
    return value;
  };

  const expandAll = (value: StripeJson, paths: string[]): StripeJson => {
    let out = clone(value);
    for (const p of paths) {
      const segs = p.split('.');
      if (segs.length > 4) throw invalid(`You cannot expand more than 4 levels of a property (${p}).`, { param: 'expand' });
      out = expandOne(out, segs, p);
    }
    return out;
  };

  const limitOf = (q: StripeJson): number => {
    if (q.limit === undefined) return 10;
    const n = Number(q.limit);
    if (!Number.isInteger(n) || n < 1 || n > 100) {
      throw invalid(`Invalid limit: must be an integer between 1 and 100 (it currently is '${q.limit}').`, {
        param: 'limit',
      });
    }
    return n;
  };

  const paginate = (all: StripeJson[], q: StripeJson, url: string, kind: string): StripeList => {
    const limit = limitOf(q);
    const sorted = [...all].sort(compareDesc);
    const cursorKey = q.starting_after !== undefined ? 'starting_after' : q.ending_before !== undefined ? 'ending_before' : null;
    let page: StripeJson[];
    let hasMore: boolean;
    if (cursorKey) {
      const cursorId = String(q[cursorKey]);
      // The cursor fixes a position in (created, id) order even if it no longer matches the filters.
      const cursor = sorted.find((x) => x.id === cursorId) ?? anyObject(cursorId);
      if (!cursor) throw missing(kind, cursorId, cursorKey, 400);
      if (cursorKey === 'starting_after') {
        const after = sorted.filter((x) => compareDesc(x, cursor) > 0);
        page = after.slice(0, limit);
        hasMore = after.length > limit;
      } else {
        const before = sorted.filter((x) => compareDesc(x, cursor) < 0);
        page = before.slice(Math.max(0, before.length - limit));
        hasMore = before.length > limit;
      }
    } else {
      page = sorted.slice(0, limit);
      hasMore = sorted.length > limit;
    }
    return { object: 'list', data: page.map(clone), has_more: hasMore, url };
  };

  const ok = (body: unknown, status = 200) => ({ status, body });

  // --- mutations shared by routes and the test API ---------------------------------------------------------

  const applyMetadata = (target: StripeJson, metadata: unknown) => {
    if (metadata === undefined) return;
    // `metadata=` clears everything; `metadata[k]=` removes one key.
    if (metadata === '' || metadata === null) {
      target.metadata = {};
      return;
    }
    const next: StripeJson = { ...(target.metadata ?? {}) };
    for (const [k, v] of Object.entries(metadata as StripeJson)) {
      if (v === '' || v === null) delete next[k];
      else next[k] = String(v);
    }
    target.metadata = next;
  };

  // Stripe only accepts a default payment method that is attached to the same customer.
  const requireCustomerPaymentMethod = (customerId: string, pmId: string, param: string) => {
    const pm = paymentMethods.get(pmId) ?? sources.get(pmId);
    if (!pm) throw missing('PaymentMethod', pmId, param, 400);
    if (idOf(pm.customer) !== customerId) {
      throw invalid(
        `The customer does not have a payment method with the ID ${pmId}. The payment method must be attached to the customer.`,
        { param },
      );
    }
  };

  const requireCustomerSource = (customerId: string, srcId: string, param: string) => {
    const src = sources.get(srcId) ?? paymentMethods.get(srcId);
    if (!src || idOf(src.customer) !== customerId) {
      throw invalid(`Customer ${customerId} does not have a linked source with ID ${srcId}.`, {
        code: 'resource_missing',
        param,
      });
    }
  };

  const emptyToNull = (v: unknown) => (v === '' ? null : v);

  // --- routes --------------------------------------------------------------------------------------------

  const routes: Route[] = [];
  const route = (method: string, path: string, handler: Route['handler']) => {
    const pattern = new RegExp(`^${path.replace(/:[a-z_]+/g, '([^/]+)')}$`);
    routes.push({ method, path, pattern, handler });
  };

  // Customers
  route('GET', '/v1/customers', ({ input, expand }) => {
    const all = [...customers.values()].filter(
      (c) =>
        !deletedCustomers.has(c.id) &&
        (input.email === undefined || c.email === input.email) &&
        matchesRange(c.created, input.created),
    );
    return ok(expandAll(paginate(all, input, '/v1/customers', 'customer'), expand));
  });

  route('GET', '/v1/customers/:id', ({ params: [id], expand }) => {
    if (deletedCustomers.has(id!)) return ok(deletedStub(id!));
    const c = customers.get(id!);
    if (!c) throw missing('customer', id!);
    return ok(expandAll(c, expand));
  });

  route('POST', '/v1/customers/:id', ({ params: [id], input, expand }) => {
    const c = liveCustomer(id!);
    const next = clone(c);
    for (const k of ['email', 'name', 'description', 'phone']) {
      if (input[k] !== undefined) next[k] = emptyToNull(input[k]);
    }
    applyMetadata(next, input.metadata);
    if (input.invoice_settings && typeof input.invoice_settings === 'object') {
      const is = input.invoice_settings as StripeJson;
      next.invoice_settings = { ...next.invoice_settings };
      if (is.default_payment_method !== undefined) {
        const pm = emptyToNull(is.default_payment_method);
        if (pm !== null) requireCustomerPaymentMethod(id!, String(pm), 'invoice_settings[default_payment_method]');
        next.invoice_settings.default_payment_method = pm;
      }
      if (is.footer !== undefined) next.invoice_settings.footer = emptyToNull(is.footer);
    }
    if (input.default_source !== undefined) {
      const src = emptyToNull(input.default_source);
      if (src !== null) requireCustomerSource(id!, String(src), 'default_source');
      next.default_source = src;
    }
    customers.set(id!, next);
    return ok(expandAll(next, expand));
  });

  route('GET', '/v1/customers/:id/payment_methods', ({ params: [id], input, expand }) => {
    liveCustomer(id!);
    const all = [...paymentMethods.values()].filter(
      (pm) => idOf(pm.customer) === id && (input.type === undefined || pm.type === input.type),
    );
    return ok(expandAll(paginate(all, input, `/v1/customers/${id}/payment_methods`, 'PaymentMethod'), expand));
  });

  route('GET', '/v1/customers/:id/payment_methods/:pm', ({ params: [id, pmId], expand }) => {
    liveCustomer(id!);
    const pm = paymentMethods.get(pmId!);
    if (!pm || idOf(pm.customer) !== id) throw missing('PaymentMethod', pmId!);
    return ok(expandAll(pm, expand));
  });

  route('GET', '/v1/customers/:id/sources', ({ params: [id], input, expand }) => {
    liveCustomer(id!);
    const all = [...sources.values()].filter(
      (s) => idOf(s.customer) === id && (input.object === undefined || s.object === input.object),
    );
    return ok(expandAll(paginate(all, input, `/v1/customers/${id}/sources`, 'source'), expand));
  });

  route('GET', '/v1/customers/:id/sources/:src', ({ params: [id, srcId], expand }) => {
    liveCustomer(id!);
    const s = sources.get(srcId!);
    if (!s || idOf(s.customer) !== id) throw missing('source', srcId!);
    return ok(expandAll(s, expand));
  });

  // Payment methods
  route('GET', '/v1/payment_methods/:id', ({ params: [id], expand }) => {
    const pm = paymentMethods.get(id!);
    if (!pm) throw missing('PaymentMethod', id!);
    return ok(expandAll(pm, expand));
  });

  route('POST', '/v1/payment_methods/:id/attach', ({ params: [id], input, expand }) => {
    const pm = paymentMethods.get(id!);
    if (!pm) throw missing('PaymentMethod', id!);
    if (!input.customer) throw invalid('Missing required param: customer.', { code: 'parameter_missing', param: 'customer' });
    liveCustomer(String(input.customer), 'customer', 400);
    const next = { ...clone(pm), customer: String(input.customer) };
    paymentMethods.set(id!, next);
    return ok(expandAll(next, expand));
  });

  route('POST', '/v1/payment_methods/:id/detach', ({ params: [id], expand }) => {
    const pm = paymentMethods.get(id!);
    if (!pm) throw missing('PaymentMethod', id!);
    if (!pm.customer) {
      throw invalid(`The payment method you provided is not attached to a customer so detachment is impossible.`);
    }
    const next = { ...clone(pm), customer: null };
    paymentMethods.set(id!, next);
    return ok(expandAll(next, expand));
  });

  // Subscriptions
  route('GET', '/v1/subscriptions', ({ input, expand }) => {
    const status = input.status === undefined ? undefined : String(input.status);
    const all = [...subscriptions.values()].filter((s) => {
      if (input.customer !== undefined && idOf(s.customer) !== input.customer) return false;
      if (status === undefined) {
        // Stripe's default: every subscription that has not been canceled.
        if (s.status === 'canceled') return false;
      } else if (status === 'ended') {
        if (s.status !== 'canceled' && s.status !== 'incomplete_expired') return false;
      } else if (status !== 'all' && s.status !== status) {
        return false;
      }
      if (input.price !== undefined && !(s.items?.data ?? []).some((i: StripeJson) => idOf(i.price) === input.price)) {
        return false;
      }
      if (input.collection_method !== undefined && s.collection_method !== input.collection_method) return false;
      return matchesRange(s.created, input.created);
    });
    return ok(expandAll(paginate(all, input, '/v1/subscriptions', 'subscription'), expand));
  });

  route('GET', '/v1/subscriptions/:id', ({ params: [id], expand }) => {
    const s = subscriptions.get(id!);
    if (!s) throw missing('subscription', id!);
    return ok(expandAll(s, expand));
  });

  route('POST', '/v1/subscriptions/:id', ({ params: [id], input, expand }) => {
    const s = subscriptions.get(id!);
    if (!s) throw missing('subscription', id!);
    const touched = Object.keys(input).filter((k) => k !== 'expand' && k !== 'metadata' && k !== 'cancellation_details');
    if (s.status === 'canceled' && touched.length > 0) {
      throw invalid('A canceled subscription can only update its cancellation_details and metadata.');
    }
    const next = clone(s);
    const customerId = idOf(s.customer) ?? '';
    if (input.default_payment_method !== undefined) {
      const pm = emptyToNull(input.default_payment_method);
      if (pm !== null) requireCustomerPaymentMethod(customerId, String(pm), 'default_payment_method');
      next.default_payment_method = pm;
    }
    if (input.default_source !== undefined) {
      const src = emptyToNull(input.default_source);
      if (src !== null) requireCustomerSource(customerId, String(src), 'default_source');
      next.default_source = src;
    }
    if (input.description !== undefined) next.description = emptyToNull(input.description);
    if (input.cancel_at_period_end !== undefined) {
      const flag = input.cancel_at_period_end === 'true';
      next.cancel_at_period_end = flag;
      next.cancel_at = flag ? periodEndOf(next) : null;
      next.canceled_at = flag ? unix() : null;
    }
    applyMetadata(next, input.metadata);
    subscriptions.set(id!, next);
    return ok(expandAll(next, expand));
  });

  route('DELETE', '/v1/subscriptions/:id', ({ params: [id], expand }) => {
    const s = subscriptions.get(id!);
    if (!s) throw missing('subscription', id!);
    if (s.status === 'canceled') {
      throw invalid(`No such subscription: '${id}'`, { code: 'resource_missing', param: 'id' });
    }
    const t = unix();
    const next = { ...clone(s), status: 'canceled', canceled_at: t, ended_at: t, cancel_at: null, cancel_at_period_end: false };
    subscriptions.set(id!, next);
    return ok(expandAll(next, expand));
  });

  // The product catalog
  route('GET', '/v1/products', ({ input, expand }) => {
    const ids = input.ids === undefined ? null : toArray(input.ids);
    const active = input.active === undefined ? undefined : input.active === 'true';
    const all = [...products.values()].filter((p) => (ids === null || ids.includes(p.id)) && (active === undefined || p.active === active));
    return ok(expandAll(paginate(all, input, '/v1/products', 'product'), expand));
  });

  route('GET', '/v1/products/:id', ({ params: [id], expand }) => {
    const product = products.get(id!);
    if (!product) throw missing('product', id!);
    return ok(expandAll(product, expand));
  });

  route('GET', '/v1/products/:id/features', ({ params: [id], input }) => {
    if (!products.has(id!)) throw missing('product', id!);
    const all = [...productFeatures.values()]
      .filter((pf) => pf.product === id)
      .map((pf) => ({ id: pf.id, object: 'product_feature', entitlement_feature: clone(entitlementFeatures.get(pf.feature)!), livemode: false, created: 0 }));
    const page = paginate(all, input, `/v1/products/${id}/features`, 'product_feature');
    for (const item of page.data) delete item.created;
    return ok(page);
  });

  route('GET', '/v1/prices', ({ input, expand }) => {
    const lookupKeys = input.lookup_keys === undefined ? null : toArray(input.lookup_keys);
    const all = [...prices.values()].filter(
      (p) => (lookupKeys === null || lookupKeys.includes(p.lookup_key)) && (input.product === undefined || idOf(p.product) === input.product),
    );
    return ok(expandAll(paginate(all, input, '/v1/prices', 'price'), expand));
  });

  route('GET', '/v1/prices/:id', ({ params: [id], expand }) => {
    const price = prices.get(id!);
    if (!price) throw missing('price', id!);
    return ok(expandAll(price, expand));
  });

  // Invoices
  route('GET', '/v1/invoices', ({ input, expand }) => {
    const all = [...invoices.values()].filter(
      (inv) =>
        (input.customer === undefined || idOf(inv.customer) === input.customer) &&
        (input.status === undefined || inv.status === input.status) &&
        (input.subscription === undefined || invoiceSubscriptionId(inv) === input.subscription) &&
        (input.collection_method === undefined || inv.collection_method === input.collection_method) &&
        matchesRange(inv.created, input.created),
    );
    return ok(expandAll(paginate(all, input, '/v1/invoices', 'invoice'), expand));
  });

  route('GET', '/v1/invoices/:id', ({ params: [id], expand }) => {
    const inv = invoices.get(id!);
    if (!inv) throw missing('invoice', id!);
    return ok(expandAll(inv, expand));
  });

  route('POST', '/v1/invoices/:id/pay', ({ params: [id], input, expand }) => payInvoice(id!, input, expand));

  // Invoice payments and payment intents: where the pinned version keeps an invoice's payment.
  route('GET', '/v1/invoice_payments', ({ input, expand }) => {
    const byIntent = input.payment?.payment_intent;
    const all = [...invoicePayments.values()].filter(
      (p) =>
        (input.invoice === undefined || p.invoice === input.invoice) &&
        (byIntent === undefined || p.payment.payment_intent === byIntent) &&
        (input.status === undefined || p.status === input.status),
    );
    return ok(expandAll(paginate(all, input, '/v1/invoice_payments', 'invoice_payment'), expand));
  });

  route('GET', '/v1/invoice_payments/:id', ({ params: [id], expand }) => {
    const payment = invoicePayments.get(id!);
    if (!payment) throw missing('invoice_payment', id!);
    return ok(expandAll(payment, expand));
  });

  route('GET', '/v1/payment_intents/:id', ({ params: [id], expand }) => {
    const intent = paymentIntents.get(id!);
    if (!intent) throw missing('payment_intent', id!);
    return ok(expandAll(intent, expand));
  });

  // Charges
  route('GET', '/v1/charges/:id', ({ params: [id], expand }) => {
    const charge = charges.get(id!);
    if (!charge) throw missing('charge', id!);
    return ok(expandAll(charge, expand));
  });

  // Billing portal
  route('POST', '/v1/billing_portal/sessions', ({ input, expand }) => {
    if (!input.customer) throw invalid('Missing required param: customer.', { code: 'parameter_missing', param: 'customer' });
    const customer = liveCustomer(String(input.customer), 'customer', 400);
    const flowData = input.flow_data as StripeJson | undefined;
    if (flowData !== undefined && !PORTAL_FLOW_TYPES.includes(String(flowData.type))) {
      throw invalid(`Invalid flow_data[type]: must be one of ${PORTAL_FLOW_TYPES.join(', ')}`, { param: 'flow_data[type]' });
    }
    // Each subscription flow names its subscription in a hash of its own name, as Stripe requires.
    const flowHash = flowData && String(flowData.type).startsWith('subscription_') ? (flowData[String(flowData.type)] as StripeJson | undefined) : undefined;
    if (flowData && String(flowData.type).startsWith('subscription_') && typeof flowHash?.subscription !== 'string') {
      throw invalid(`Missing required param: flow_data[${flowData.type}][subscription].`, { code: 'parameter_missing', param: `flow_data[${flowData.type}][subscription]` });
    }
    const id = nextTestId('bps');
    const session = billingPortalSessionFixture({
      id,
      created: unix(),
      customer: String(customer.id),
      configuration: typeof input.configuration === 'string' ? input.configuration : 'bpc_test_default',
      locale: typeof input.locale === 'string' ? input.locale : null,
      return_url: typeof input.return_url === 'string' ? input.return_url : null,
      ...(flowData ? { flow_data: flowData } : {}),
      url: `${baseUrl}/portal/${id}`,
    });
    portalSessions.push({ session: clone(session), params: clone(input) });
    return ok(expandAll(session, expand));
  });

  // Events
  route('GET', '/v1/events', ({ input, expand }) => {
    const types = toArray(input.types);
    const single = input.type === undefined ? undefined : String(input.type);
    const typeMatches = (t: string, pattern: string) =>
      pattern.endsWith('*') ? t.startsWith(pattern.slice(0, -1)) : t === pattern;
    const all = [...events.values()].filter(
      (e) =>
        matchesRange(e.created, input.created) &&
        (single === undefined || typeMatches(e.type, single)) &&
        (types.length === 0 || types.some((t) => typeMatches(e.type, t))),
    );
    return ok(expandAll(paginate(all, input, '/v1/events', 'event'), expand));
  });

  route('GET', '/v1/events/:id', ({ params: [id], expand }) => {
    const e = events.get(id!);
    if (!e) throw missing('event', id!);
    return ok(expandAll(e, expand));
  });

  // --- invoice payment ------------------------------------------------------------------------------------

  // Stripe's test-card numbers decline by last4; an expired card declines as expired_card.
  const DECLINES: Record<string, Decline> = {
    '0002': { code: 'card_declined', declineCode: 'generic_decline', message: 'Your card was declined.' },
    '9995': { code: 'card_declined', declineCode: 'insufficient_funds', message: 'Your card has insufficient funds.' },
    '9987': { code: 'card_declined', declineCode: 'lost_card', message: 'Your card was declined.' },
    '0341': { code: 'card_declined', declineCode: 'generic_decline', message: 'Your card was declined.' },
    // 4000 0000 0000 0069: a card whose printed date is fine but which the issuer says has expired.
    '0069': { code: 'expired_card', declineCode: 'expired_card', message: 'Your card has expired.' },
  };
  const EXPIRED: Decline = { code: 'expired_card', declineCode: 'expired_card', message: 'Your card has expired.' };

  /**
   * One collection attempt: finalizes a draft, charges what the invoice, its subscription or its customer
   * charges (Stripe's precedence), and records the attempt on the invoice's payment intent.
   */
  function collect(id: string, input: StripeJson = {}): AttemptResult & { invoice: StripeJson; declined: boolean } {
    const inv = invoices.get(id);
    if (!inv) throw missing('invoice', id);
    if (inv.status === 'paid') throw invalid('Invoice is already paid');
    if (inv.status === 'void') throw invalid('This invoice can no longer be paid because it has been voided.');
    const next = finalized(inv);
    const sub = subscriptions.get(invoiceSubscriptionId(next) ?? '');
    const cus = customers.get(idOf(next.customer) ?? '');
    const pmId =
      idOf(input.payment_method) ??
      idOf(input.source) ??
      idOf(next.default_payment_method) ??
      idOf(next.default_source) ??
      idOf(sub?.default_payment_method) ??
      idOf(sub?.default_source) ??
      idOf(cus?.invoice_settings?.default_payment_method) ??
      idOf(cus?.default_source);
    if (!pmId) {
      throw invalid(
        'This customer has no attached payment source or default payment method. Please consider adding a default payment method.',
      );
    }
    const instrument = paymentMethods.get(pmId) ?? sources.get(pmId);
    if (!instrument) throw missing('PaymentMethod', pmId, 'payment_method', 400);
    const card: StripeJson = instrument.object === 'payment_method' ? (instrument.card ?? {}) : instrument;

    next.attempt_count = Number(next.attempt_count ?? 0) + 1;
    next.attempted = true;
    const decline = isExpired(card, now()) ? EXPIRED : (DECLINES[String(card.last4)] ?? null);
    const attempt = payments.attempt(next, instrument, decline);
    if (decline) invoices.set(id, next);
    else settle(next);
    return { ...attempt, invoice: clone(invoices.get(id)!), declined: decline !== null };
  }

  function finalized(inv: StripeJson): StripeJson {
    const next = clone(inv);
    next.status_transitions = { ...next.status_transitions };
    if (next.status === 'draft') {
      next.status = 'open';
      next.status_transitions.finalized_at = unix();
    }
    return next;
  }

  function settle(next: StripeJson): void {
    next.status = 'paid';
    next.amount_paid = next.amount_due;
    next.amount_remaining = 0;
    next.next_payment_attempt = null;
    next.status_transitions.paid_at = unix();
    invoices.set(next.id, next);
    // Paying a subscription's latest invoice is what brings a past_due/unpaid/incomplete one back.
    const subId = invoiceSubscriptionId(next);
    const sub = subId ? subscriptions.get(subId) : undefined;
    if (sub && idOf(sub.latest_invoice) === next.id && ['past_due', 'unpaid', 'incomplete'].includes(sub.status)) {
      subscriptions.set(sub.id, { ...clone(sub), status: 'active' });
    }
    const cus = customers.get(idOf(next.customer) ?? '');
    if (cus && cus.delinquent) customers.set(cus.id, { ...clone(cus), delinquent: false });
  }

  function payInvoice(id: string, input: StripeJson, expand: string[]) {
    if (input.paid_out_of_band === 'true') {
      const inv = invoices.get(id);
      if (!inv) throw missing('invoice', id);
      if (inv.status === 'paid') throw invalid('Invoice is already paid');
      settle(finalized(inv));
      return ok(expandAll(invoices.get(id)!, expand));
    }
    const result = collect(id, input);
    if (result.declined) {
      const error = result.paymentIntent.last_payment_error as StripeJson;
      throw cardDeclined(String(error.code), (error.decline_code as string | undefined) ?? null, String(error.message), {
        charge: result.charge.id,
        payment_intent: result.paymentIntent,
        ...(error.payment_method ? { payment_method: error.payment_method } : { source: error.source }),
      });
    }
    return ok(expandAll(result.invoice, expand));
  }

  // --- HTTP plumbing -------------------------------------------------------------------------------------

  const keyPattern = /^(sk|rk)_(test|live)_[A-Za-z0-9_]+$/;
  const apiKeyOf = (header: string | undefined): string | null => {
    if (!header) return null;
    const bearer = /^Bearer\s+(\S+)$/i.exec(header);
    if (bearer) return bearer[1]!;
    const basic = /^Basic\s+(\S+)$/i.exec(header);
    if (basic) return Buffer.from(basic[1]!, 'base64').toString('utf8').split(':')[0] ?? null;
    return null;
  };

  const authError = (key: string | null): ApiError => {
    // Stripe answers 401 with type invalid_request_error; the SDK maps the status to StripeAuthenticationError.
    if (key === null) {
      return new ApiError(401, {
        message:
          "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
        type: 'invalid_request_error',
      });
    }
    const masked = key.length > 12 ? `${key.slice(0, 8)}${'*'.repeat(key.length - 12)}${key.slice(-4)}` : key;
    return new ApiError(401, { message: `Invalid API Key provided: ${masked}`, type: 'invalid_request_error' });
  };

  const readBody = (req: IncomingMessage): Promise<string> =>
    new Promise((resolveBody, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolveBody(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });

  const send = (
    res: ServerResponse,
    record: RecordedRequest,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) => {
    record.status = status;
    record.response = body;
    const payload = JSON.stringify(body, null, 2);
    res.writeHead(status, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(payload),
      'Request-Id': nextTestId('req'),
      'Stripe-Version': CURRENT_API_VERSION,
      ...(record.headers['idempotency-key'] ? { 'Idempotency-Key': String(record.headers['idempotency-key']) } : {}),
      ...headers,
    });
    res.end(payload);
  };

  const sendHtml = (res: ServerResponse, record: RecordedRequest, status: number, html: string) => {
    record.status = status;
    res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(html) });
    res.end(html);
  };

  const portalPage = (id: string): string | null => {
    const rec = portalSessions.find((p) => p.session.id === id);
    if (!rec) return null;
    const s = rec.session;
    const back = s.flow?.after_completion?.redirect?.return_url ?? s.return_url;
    return [
      '<!doctype html>',
      '<html lang="en"><head><meta charset="utf-8"><title>Update your card</title></head><body>',
      '<h1>Update your card</h1>',
      `<p>Stripe test double billing portal for <span data-customer>${escapeHtml(s.customer)}</span>.</p>`,
      `<p>Flow: <span data-flow>${escapeHtml(String(s.flow?.type ?? 'portal_homepage'))}</span></p>`,
      back ? `<p><a href="${escapeHtml(back)}" data-return>Return to ${escapeHtml(back)}</a></p>` : '',
      '</body></html>',
    ].join('\n');
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const rawBody = await readBody(req);
    const contentType = String(req.headers['content-type'] ?? '');
    let body: StripeJson = {};
    if (rawBody) {
      body = contentType.includes('application/json') ? (JSON.parse(rawBody) as StripeJson) : parseStripeForm(rawBody);
    }
    const record: RecordedRequest = {
      method: (req.method ?? 'GET').toUpperCase(),
      path: url.pathname,
      query: parseStripeForm(url.search.slice(1)),
      body,
      headers: req.headers,
      at: Date.now(),
    };
    requests.push(record);

    if (latencyMs > 0) await new Promise((r) => setTimeout(r, latencyMs));

    const faultIndex = faults.findIndex((f) => f.remaining > 0 && matcherFn(f.match)(record));
    if (faultIndex >= 0) {
      const fault = faults[faultIndex]!;
      fault.remaining -= 1;
      if (fault.remaining <= 0) faults.splice(faultIndex, 1);
      if (fault.status === 'reset') {
        req.socket.destroy();
        return;
      }
      const headers: Record<string, string> = { 'Stripe-Should-Retry': fault.shouldRetry ? 'true' : 'false' };
      if (fault.retryAfter !== undefined) headers['Retry-After'] = String(fault.retryAfter);
      send(res, record, fault.status, { error: { ...faultError(fault.status), ...fault.error } }, headers);
      return;
    }

    if (record.method === 'GET' && record.path.startsWith('/portal/')) {
      const page = portalPage(decodeURIComponent(record.path.slice('/portal/'.length)));
      if (page === null) sendHtml(res, record, 404, '<!doctype html><title>Not found</title><h1>Session not found</h1>');
      else sendHtml(res, record, 200, page);
      return;
    }

    try {
      const key = apiKeyOf(req.headers.authorization);
      if (key === null || !keyPattern.test(key) || (opts.apiKey !== undefined && key !== opts.apiKey)) {
        throw authError(key);
      }

      // Stripe replays the saved response for a reused Idempotency-Key, and rejects the key if reused
      // with different parameters.
      const idemKey = record.method === 'POST' ? req.headers['idempotency-key'] : undefined;
      const fingerprint = `${record.method} ${record.path} ${rawBody}`;
      if (typeof idemKey === 'string') {
        const saved = idempotency.get(idemKey);
        if (saved) {
          if (saved.fingerprint !== fingerprint) {
            throw new ApiError(400, {
              message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idemKey}' if you meant to execute a different request.`,
              type: 'idempotency_error',
            });
          }
          send(res, record, saved.status, saved.body, { 'Idempotent-Replayed': 'true' });
          return;
        }
      }

      // Stripe would render another version; the double knows only the pinned one, and says so.
      const version = req.headers['stripe-version'];
      if (version !== undefined && version !== CURRENT_API_VERSION) {
        throw invalid(
          `The Stripe double answers in API version ${CURRENT_API_VERSION} only (the installed SDK's); this request asked for ${String(version)}.`,
          { param: 'Stripe-Version' },
        );
      }

      let matched: { route: Route; params: string[] } | undefined;
      for (const r of routes) {
        if (r.method !== record.method) continue;
        const m = r.pattern.exec(record.path);
        if (m) {
          matched = { route: r, params: m.slice(1).map((p) => decodeURIComponent(p)) };
          break;
        }
      }
      if (!matched) {
        throw new ApiError(404, {
          message: `Unrecognized request URL (${record.method}: ${record.path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
          type: 'invalid_request_error',
        });
      }
      record.route = `${matched.route.method} ${matched.route.path}`;
      const input = { ...record.query, ...record.body };
      const expand = [...toArray(record.query.expand), ...toArray(record.body.expand)];
      try {
        const result = await matched.route.handler({ req: record, params: matched.params, expand, input });
        const status = result.status ?? 200;
        if (typeof idemKey === 'string') idempotency.set(idemKey, { fingerprint, status, body: result.body });
        send(res, record, status, result.body);
      } catch (err) {
        // Card declines are saved like successes: the charge attempt happened and must not repeat.
        if (err instanceof ApiError && err.status === 402 && typeof idemKey === 'string') {
          idempotency.set(idemKey, { fingerprint, status: 402, body: { error: err.error } });
        }
        throw err;
      }
    } catch (err) {
      if (err instanceof ApiError) {
        send(res, record, err.status, { error: err.error }, err.headers);
      } else {
        send(res, record, 500, { error: { message: `Stripe double bug: ${(err as Error).message}`, type: 'api_error' } });
      }
    }
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error: { message: String(err), type: 'api_error' } }));
      }
    });
  });

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolveListen());
  });
  const port = (server.address() as AddressInfo).port;
  baseUrl = `http://127.0.0.1:${port}`;
  let closed: Promise<void> | null = null;

  // --- the test-facing API -------------------------------------------------------------------------------

  const putter =
    (store: Map<string, StripeJson>, objects: string[], label: string) =>
    <T extends StripeJson>(obj: T): T => {
      if (typeof obj.id !== 'string' || !objects.includes(String(obj.object))) {
        throw new TypeError(`${label} expects an object with a string id and object in [${objects.join(', ')}]`);
      }
      refuseLegacy(obj, label);
      store.set(obj.id, clone(obj));
      return obj;
    };

  // A field only an older API version had would be served as if the pinned version had it.
  const refuseLegacy = (obj: StripeJson, where: string) => {
    const stale = legacyFieldsOf(obj);
    if (stale.length > 0) {
      throw new TypeError(
        `${where}: ${obj.object} ${obj.id} carries ${stale.join(', ')}, which API ${CURRENT_API_VERSION} no longer has; ` +
          `the double holds pinned-version objects (legacy shapes exist only in events: makeEvent with api_version ${LEGACY_API_VERSION})`,
      );
    }
  };

  const getter = (store: Map<string, StripeJson>) => (id: string) => {
    const hit = store.get(id);
    return hit ? clone(hit) : undefined;
  };

  const double: StripeDouble = {
    url: baseUrl,
    port,
    close() {
      closed ??= new Promise<void>((resolveClose) => {
        // The SDK keeps sockets alive; without closeAllConnections, close() would wait for them to idle out.
        server.close(() => resolveClose());
        server.closeAllConnections();
      });
      return closed;
    },
    client(clientOpts = {}) {
      const { apiKey, ...config } = clientOpts;
      return new Stripe(apiKey ?? opts.apiKey ?? 'sk_test_double', {
        host: '127.0.0.1',
        port,
        protocol: 'http',
        maxNetworkRetries: 0,
        telemetry: false,
        ...config,
      });
    },

    putCustomer<T extends StripeJson>(obj: T): T {
      const out = putter(customers, ['customer'], 'putCustomer')(obj);
      deletedCustomers.delete(obj.id);
      return out;
    },
    putPaymentMethod: putter(paymentMethods, ['payment_method'], 'putPaymentMethod'),
    putSource: putter(sources, ['card', 'source', 'bank_account'], 'putSource'),
    putSubscription: putter(subscriptions, ['subscription'], 'putSubscription'),
    putInvoice: putter(invoices, ['invoice'], 'putInvoice'),
    putCharge: putter(charges, ['charge'], 'putCharge'),
    putPaymentIntent: putter(paymentIntents, ['payment_intent'], 'putPaymentIntent'),
    putInvoicePayment: putter(invoicePayments, ['invoice_payment'], 'putInvoicePayment'),
    putProduct: putter(products, ['product'], 'putProduct'),
    putPrice: putter(prices, ['price'], 'putPrice'),
    putEntitlementFeature: putter(entitlementFeatures, ['entitlements.feature'], 'putEntitlementFeature'),
    attachFeature(productId, feature) {
      if (!products.has(productId)) throw new Error(`attachFeature: unknown product ${productId}`);
      if (!entitlementFeatures.has(feature.id)) entitlementFeatures.set(feature.id, clone(feature));
      const id = `prodft_${productId.slice(5)}_${feature.id.slice(5)}`;
      productFeatures.set(id, { id, product: productId, feature: feature.id });
      return { id, object: 'product_feature', entitlement_feature: clone(entitlementFeatures.get(feature.id)!), livemode: false };
    },
    detachFeature(productFeatureId) {
      productFeatures.delete(productFeatureId);
    },
    getCustomer(id) {
      if (deletedCustomers.has(id)) return deletedStub(id);
      return getter(customers)(id);
    },
    getPaymentMethod: getter(paymentMethods),
    getSource: getter(sources),
    getSubscription: getter(subscriptions),
    getInvoice: getter(invoices),
    getCharge: getter(charges),
    getPaymentIntent: getter(paymentIntents),
    invoicePaymentsOf: (invoiceId) => payments.paymentsOf(invoiceId),
    attemptInvoicePayment: (invoiceId) => collect(invoiceId),

    deleteCustomer(id, deleteOpts = {}) {
      if (!customers.has(id)) throw new Error(`deleteCustomer: unknown customer ${id}`);
      deletedCustomers.add(id);
      // Deleting a customer in Stripe cancels its subscriptions at once and detaches its payment methods.
      const t = unix();
      if (deleteOpts.cancelSubscriptions ?? true) {
        for (const s of subscriptions.values()) {
          if (idOf(s.customer) === id && s.status !== 'canceled' && s.status !== 'incomplete_expired') {
            subscriptions.set(s.id, { ...s, status: 'canceled', canceled_at: t, ended_at: t, cancel_at_period_end: false });
          }
        }
      }
      for (const pm of paymentMethods.values()) {
        if (idOf(pm.customer) === id) paymentMethods.set(pm.id, { ...pm, customer: null });
      }
    },
    forgetCustomer(id) {
      customers.delete(id);
      deletedCustomers.delete(id);
    },
    forget(id) {
      for (const store of [customers, paymentMethods, sources, subscriptions, invoices, charges, paymentIntents, invoicePayments, events, products, prices, entitlementFeatures]) store.delete(id);
      deletedCustomers.delete(id);
    },

    failNext(count, faultOpts) {
      if (count > 0) faults.push({ ...faultOpts, remaining: count });
    },
    clearFaults() {
      faults = [];
    },
    setLatency(ms) {
      latencyMs = Math.max(0, ms);
    },

    requests,
    routes: routes.map((r) => `${r.method} ${r.path}`),
    portalFlowTypes: PORTAL_FLOW_TYPES,
    count(match) {
      const fn = matcherFn(match);
      return requests.filter(fn).length;
    },
    resetRequests() {
      requests.length = 0;
    },
    portalSessions,

    makeEvent(type, object, eventOpts = {}) {
      const legacy = eventOpts.api_version === LEGACY_API_VERSION;
      if (!legacy) refuseLegacy(object, `makeEvent(${type})`);
      const rendered = legacy ? renderLegacy(object, payments) : clone(object);
      const event = eventFixture(type, rendered, { created: unix(), ...eventOpts });
      events.set(event.id, clone(event));
      return event as EventObject<typeof object>;
    },
    sign(event, secret, signOpts = {}) {
      // Stripe posts pretty-printed JSON; the signature covers these exact bytes.
      const payload = typeof event === 'string' ? event : JSON.stringify(event, null, 2);
      return { payload, header: double.signPayload(payload, secret, signOpts) };
    },
    signPayload(payload, secret, signOpts = {}) {
      return Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp: signOpts.timestamp ?? unix() });
    },

    reset() {
      for (const store of [customers, paymentMethods, sources, subscriptions, invoices, charges, events, products, prices, entitlementFeatures]) store.clear();
      productFeatures.clear();
      payments.clear();
      deletedCustomers.clear();
      portalSessions.length = 0;
      requests.length = 0;
      idempotency.clear();
      faults = [];
      latencyMs = 0;
    },
  };
  return double;
}
