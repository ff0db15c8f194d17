/**
 * The OpenAPI 3.1 document of every route the app serves, at GET /openapi.json. Kept by hand next to the
 * routes; test/integration/openapi.test.ts fails when a route is missing from it or a response of the
 * app does not match its schema.
 */
import { Router } from 'express';
import { CUSTOMER_ID_PATTERN, STRIPE_ID_MAX_LENGTH } from '../domain/stripe-ids.js';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object, description: string) => ({ description, content: { 'application/json': { schema } } });
const error = (description: string) => json(ref('Error'), description);
const html = (description: string) => ({ description, content: { 'text/html': { schema: { type: 'string' } } } });
/** A response that is an error as JSON for scripts, or a page for a browser (the login page, for a 401). */
const errorOrPage = (description: string) => ({
  description,
  content: { 'application/json': { schema: ref('Error') }, 'text/html': { schema: { type: 'string' } } },
});
const adminBrowserSecurity = [{ adminToken: [] }, { adminSession: [] }];
const formBody = (properties: Record<string, object>, required: string[]) => ({
  required: true,
  content: { 'application/x-www-form-urlencoded': { schema: { type: 'object', required, properties } } },
});
const nullable = (schema: object) => ({ oneOf: [schema, { type: 'null' }] });
const isoInstant = { type: 'string', format: 'date-time' };
const adminSecurity = [{ adminToken: [] }];
const customerIdSchema = { type: 'string', pattern: CUSTOMER_ID_PATTERN, maxLength: STRIPE_ID_MAX_LENGTH };

const ENTITLEMENT_STATUSES = ['active', 'trialing', 'grace_period', 'granted', 'card_expired', 'payment_failed', 'paused', 'incomplete', 'canceled', 'none'];
const ENTITLEMENT_REASONS = [
  'subscribed', 'trial', 'card_expired_grace', 'card_expired', 'payment_failed_grace', 'payment_failed',
  'canceled', 'incomplete', 'paused', 'manual_grant', 'not_in_plan', 'no_subscription', 'customer_deleted', 'unknown_customer',
];
const SUBSCRIPTION_STATUSES = ['incomplete', 'incomplete_expired', 'trialing', 'active', 'past_due', 'canceled', 'unpaid', 'paused'];
const FEATURE_KEY_PATTERN = '^[a-z0-9][a-z0-9_.-]{0,63}$';
const subscriptionRef = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'status', 'current_period_end'],
  properties: { id: { type: 'string' }, status: { enum: SUBSCRIPTION_STATUSES }, current_period_end: nullable(isoInstant) },
};

const schemas = {
  Error: {
    type: 'object',
    required: ['error'],
    additionalProperties: false,
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message'],
        additionalProperties: false,
        properties: { code: { type: 'string' }, message: { type: 'string' } },
      },
    },
  },
  Card: {
    type: 'object',
    required: ['brand', 'last4', 'exp_month', 'exp_year'],
    properties: {
      id: { type: 'string' },
      brand: { type: 'string' },
      last4: { type: 'string', pattern: '^[0-9]{4}$' },
      exp_month: { type: 'integer', minimum: 1, maximum: 12 },
      exp_year: { type: 'integer' },
      expired: { type: 'boolean' },
    },
  },
  FeatureAnswer: {
    type: 'object',
    additionalProperties: false,
    required: ['feature', 'entitled', 'status', 'reason', 'grace_until', 'subscription'],
    properties: {
      feature: { type: 'string', pattern: FEATURE_KEY_PATTERN },
      entitled: { type: 'boolean' },
      status: { enum: ENTITLEMENT_STATUSES },
      reason: { enum: ENTITLEMENT_REASONS },
      grace_until: nullable(isoInstant),
      subscription: nullable(subscriptionRef),
    },
  },
  Entitlement: {
    type: 'object',
    additionalProperties: false,
    required: ['customer', 'user', 'entitled', 'status', 'reason', 'message', 'grace_until', 'subscription', 'card', 'update_card_url', 'checked_at', 'feature', 'features'],
    properties: {
      customer: nullable({ type: 'string' }),
      user: nullable({ type: 'string' }),
      entitled: { type: 'boolean' },
      status: { enum: ENTITLEMENT_STATUSES },
      reason: { enum: ENTITLEMENT_REASONS },
      message: { type: 'string' },
      grace_until: nullable(isoInstant),
      subscription: nullable(subscriptionRef),
      card: nullable({
        type: 'object',
        additionalProperties: false,
        required: ['brand', 'last4', 'exp_month', 'exp_year', 'expired'],
        properties: {
          brand: { type: 'string' },
          last4: { type: 'string' },
          exp_month: { type: 'integer' },
          exp_year: { type: 'integer' },
          expired: { type: 'boolean' },
        },
      }),
      update_card_url: nullable({ type: 'string', format: 'uri' }),
      checked_at: isoInstant,
      feature: { type: 'string', pattern: FEATURE_KEY_PATTERN, description: 'The feature the top-level answer is for: `feature=`, else DEFAULT_FEATURE.' },
      features: { type: 'array', items: ref('FeatureAnswer'), description: 'Every feature the reader has or had (granted by a subscription in any state, or by a live grant), sorted.' },
    },
  },
  Grant: {
    type: 'object',
    additionalProperties: false,
    required: ['id', 'customer', 'user', 'feature', 'until', 'reason', 'created_by', 'created_at', 'active'],
    properties: {
      id: { type: 'string', pattern: '^gr_[A-Za-z0-9]{24}$' },
      customer: nullable({ type: 'string' }),
      user: nullable({ type: 'string' }),
      feature: { type: 'string', pattern: FEATURE_KEY_PATTERN },
      until: isoInstant,
      reason: { type: 'string' },
      created_by: { type: 'string' },
      created_at: isoInstant,
      active: { type: 'boolean', description: 'until is still ahead.' },
    },
  },
  AdminJob: {
    type: 'object',
    additionalProperties: false,
    required: ['job_id', 'state', 'progress', 'result', 'failed_reason'],
    properties: {
      job_id: nullable({ type: 'string' }),
      state: { type: 'string' },
      progress: {},
      result: {},
      failed_reason: nullable({ type: 'string' }),
    },
  },
  AdminJobSummary: {
    type: 'object',
    required: ['id', 'name', 'state', 'created_at', 'run_at', 'finished_at', 'failed_reason'],
    properties: {
      id: nullable({ type: 'string' }),
      name: { type: 'string' },
      state: { type: 'string' },
      created_at: isoInstant,
      run_at: nullable(isoInstant),
      finished_at: nullable(isoInstant),
      reason: { type: 'string' },
      event_id: { type: 'string' },
      kind: { type: 'string' },
      failed_reason: nullable({ type: 'string' }),
    },
  },
  AdminCustomer: {
    type: 'object',
    additionalProperties: false,
    required: ['customer', 'projection', 'entitlement', 'refreshes', 'card_expiry_jobs', 'notices'],
    properties: {
      customer: { type: 'string' },
      projection: {
        type: 'object',
        required: ['customer', 'user', 'email', 'deleted', 'default_card', 'subscriptions', 'read_at'],
        properties: {
          customer: { type: 'string' },
          user: nullable({ type: 'string' }),
          email: nullable({ type: 'string', description: 'Masked: first character and domain only.' }),
          deleted: { type: 'boolean' },
          default_card: nullable(ref('Card')),
          subscriptions: {
            type: 'array',
            items: {
              type: 'object',
              required: ['id', 'status', 'current_period_end', 'cancel_at_period_end', 'card', 'past_due_since', 'created'],
              properties: {
                id: { type: 'string' },
                status: { enum: SUBSCRIPTION_STATUSES },
                current_period_end: nullable({ type: 'number' }),
                cancel_at_period_end: { type: 'boolean' },
                card: nullable(ref('Card')),
                past_due_since: nullable({ type: 'number' }),
                created: { type: 'number' },
              },
            },
          },
          read_at: isoInstant,
          expiry_marks: { type: 'array', items: { type: 'object' } },
        },
      },
      entitlement: ref('Entitlement'),
      refreshes: { type: 'array', items: ref('AdminJobSummary') },
      card_expiry_jobs: { type: 'array', items: ref('AdminJobSummary') },
      notices: { type: 'array', items: ref('AdminJobSummary') },
    },
  },
};

const tokenQuery = { name: 'token', in: 'query', required: true, schema: { type: 'string' }, description: 'The signed link token.' };

export function buildOpenApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'subgate',
      version: '0.1.0',
      description: 'Subscription entitlements for paywalled publishers, derived from Stripe. Errors are always `{"error": {"code", "message"}}`.',
    },
    components: {
      securitySchemes: {
        entitlementToken: {
          type: 'http',
          scheme: 'bearer',
          description:
            'One of ENTITLEMENT_API_TOKENS. Its scopes say what it may do: `check` (entitlement answers, `update_card_url` always null), ' +
            '`links` (answers with `update_card_url`), `feed` (the change feed). A bare token has every scope.',
        },
        metricsToken: { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN. Without it configured, /metrics is open.' },
        adminToken: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN. Without it configured, every /admin path is a 404.' },
        adminSession: {
          type: 'apiKey',
          in: 'cookie',
          name: 'subgate_admin',
          description: 'A browser session from POST /admin/login. State-changing requests on it must come from this site (Origin or Sec-Fetch-Site), and subgate\'s own forms carry the session\'s CSRF token.',
        },
        stripeSignature: { type: 'apiKey', in: 'header', name: 'Stripe-Signature' },
      },
      schemas,
    },
    paths: {
      '/healthz': {
        get: {
          summary: 'Liveness: the process runs.',
          responses: { '200': json({ type: 'object', required: ['status'], properties: { status: { const: 'ok' } } }, 'Alive.') },
        },
      },
      '/readyz': {
        get: {
          summary: 'Readiness: Redis answers a PING.',
          responses: {
            '200': json({ type: 'object', required: ['status'], properties: { status: { const: 'ready' } } }, 'Ready.'),
            '503': json({ type: 'object', required: ['status', 'error'], properties: { status: { const: 'unavailable' }, error: schemas.Error.properties.error } }, 'Redis does not answer.'),
          },
        },
      },
      '/v1/entitlements': {
        get: {
          summary: 'May this reader see paid content, and if not, why?',
          security: [{ entitlementToken: [] }],
          parameters: [
            { name: 'customer', in: 'query', schema: customerIdSchema, description: 'A Stripe customer id. Exactly one of customer or user.' },
            { name: 'user', in: 'query', schema: { type: 'string', maxLength: 256 }, description: 'The publisher user id in customer metadata.' },
            { name: 'feature', in: 'query', schema: { type: 'string', pattern: FEATURE_KEY_PATTERN }, description: 'The feature to answer for (default DEFAULT_FEATURE). One the reader does not have is `entitled: false, status: "none", reason: "not_in_plan"`.' },
          ],
          responses: {
            '200': json(ref('Entitlement'), 'The answer; an unknown customer or user is `entitled: false, status: "none"`. `update_card_url` is null unless the token has the `links` scope.'),
            '400': error('Not exactly one valid customer or user (`invalid_customer`, `invalid_user`, `invalid_query`), or a malformed feature (`invalid_feature`).'),
            '401': error('Missing or wrong bearer token.'),
            '403': error('The token has neither the `check` nor the `links` scope (code `insufficient_scope`).'),
            '503': error('Redis is unavailable.'),
          },
        },
      },
      '/v1/entitlements/events': {
        get: {
          summary: 'Entitlement changes as Server-Sent Events, for clients that cache answers.',
          description:
            'One `event: change` per published change (`id:` is the Redis stream entry id, `data:` the change JSON: ' +
            'customer, user, previous, next, version, at). Send `Last-Event-ID` to resume after that id; when it can no ' +
            'longer be honoured (trimmed, unknown, malformed, or more entries behind than the server replays) the ' +
            'stream sends `event: reset` (`data: {"reason": …}`): drop every cached answer and resume from its id. ' +
            '`event: ready` marks the switch to live. Comment lines (`: keep-alive`) every 15 s.',
          security: [{ entitlementToken: [] }],
          parameters: [
            { name: 'Last-Event-ID', in: 'header', required: false, schema: { type: 'string', pattern: '^[0-9]+-[0-9]+$' }, description: 'The id of the last change the client saw.' },
          ],
          responses: {
            '200': { description: 'The event stream (open until either side closes it).', content: { 'text/event-stream': { schema: { type: 'string' } } } },
            '401': error('Missing or wrong bearer token.'),
            '403': error('The token has no `feed` scope (code `insufficient_scope`).'),
            '429': error('This token already holds its maximum of open event streams (`too_many_connections`); see Retry-After.'),
            '503': error('Redis is unavailable, this process does not serve live events, or it serves its maximum of streams (`at_capacity`); see Retry-After.'),
          },
        },
      },
      '/webhooks/stripe': {
        post: {
          summary: "Stripe's webhook endpoint.",
          security: [{ stripeSignature: [] }],
          requestBody: { required: true, content: { 'application/json': { schema: { type: 'object' } } } },
          responses: {
            '200': json(
              { type: 'object', required: ['received'], additionalProperties: false, properties: { received: { const: true }, duplicate: { const: true } } },
              'Verified and recorded; `duplicate` when the id was seen before.',
            ),
            '400': error('Signature, timestamp or payload refused (missing_signature is answered before the body is read).'),
            '413': error('Body larger than 1 MB.'),
            '415': error('`unsupported_encoding`: a Content-Encoding other than identity. Stripe never compresses webhook bodies; refused before the body is read.'),
            '503': error('Redis is unavailable; Stripe retries.'),
          },
        },
      },
      '/billing/update-card': {
        get: {
          summary: 'A signed update-card link: opens the Stripe Billing Portal on the card-update flow.',
          parameters: [tokenQuery],
          responses: {
            '303': { description: 'To the Stripe Billing Portal: a new session, or the one this customer opened moments ago.' },
            '400': html('Malformed link.'),
            '403': html('Tampered link.'),
            '410': html('Expired link.'),
            '429': html("Past the customer's budget of portal sessions (UPDATE_CARD_SESSION_LIMIT per window); `Retry-After` says when."),
            '503': html('Stripe or Redis unavailable.'),
          },
        },
      },
      '/billing/return': {
        get: {
          summary: 'Where the portal sends the reader back: re-read from Stripe, then to the publisher.',
          parameters: [tokenQuery],
          responses: {
            '200': html('Thank-you page when no publisher return URL is configured.'),
            '303': { description: "To the publisher's return URL." },
            '400': html('Malformed link.'),
            '403': html('Tampered link.'),
            '410': html('Expired link.'),
            '503': html('Stripe or Redis unavailable.'),
          },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics.',
          security: [{}, { metricsToken: [] }],
          responses: {
            '200': { description: 'Text exposition format.', content: { 'text/plain': { schema: { type: 'string' } } } },
            '401': error('METRICS_TOKEN is configured and the bearer token is missing or wrong.'),
          },
        },
      },
      '/openapi.json': {
        get: { summary: 'This document.', responses: { '200': json({ type: 'object', required: ['openapi', 'paths'] }, 'OpenAPI 3.1.') } },
      },
      '/admin/login': {
        get: { summary: 'The admin login page (a form for ADMIN_TOKEN).', responses: { '200': html('The login page.') } },
        post: {
          summary: 'Log in with ADMIN_TOKEN: a session cookie (HttpOnly, SameSite=Strict, Secure under https, expiring) and 303 to `next` (a path under /admin).',
          requestBody: formBody({ token: { type: 'string' }, next: { type: 'string' } }, ['token']),
          responses: {
            '303': { description: 'Logged in; Set-Cookie carries the session.' },
            '401': html('Not the admin token: the login page again.'),
            '403': error('Posted from another site (`cross_site`).'),
            '413': error('Body larger than 2 KB.'),
            '429': html('Too many failed logins from this address in the window (ADMIN_LOGIN_MAX_FAILURES).'),
          },
        },
      },
      '/admin/logout': {
        post: {
          summary: 'Revoke this browser session (its cookie stops working at once) and 303 to the login page.',
          security: [{ adminSession: [] }],
          requestBody: formBody({ csrf: { type: 'string' } }, ['csrf']),
          responses: {
            '303': { description: 'Logged out (or there was no session).' },
            '403': error('From another site (`cross_site`) or without the session\'s CSRF token (`csrf`).'),
          },
        },
      },
      '/admin': {
        get: {
          summary: 'The admin home page: find a reader by customer id, user id or e-mail.',
          security: adminBrowserSecurity,
          responses: { '200': html('The search page.'), '401': errorOrPage('No session: the login page (HTML), or a 401 error (JSON).') },
        },
      },
      '/admin/search': {
        get: {
          summary: 'Find a reader by customer id, user id or e-mail address (any case): 303 to the one found, a list of several, or a 404 page.',
          security: adminBrowserSecurity,
          parameters: [{ name: 'q', in: 'query', required: true, schema: { type: 'string', maxLength: 320 } }],
          responses: {
            '200': html('Several customers match.'),
            '303': { description: 'One customer matches: its page.' },
            '400': html('No query, or one longer than 320 characters.'),
            '401': errorOrPage('No session: the login page (HTML), or a 401 error (JSON).'),
            '404': html('Nobody matches.'),
          },
        },
      },
      '/admin/recovery': {
        get: {
          summary: 'The recovery funnel: per card problem and day, detected -> notice sent -> link opened -> portal session -> card updated -> access restored, conversion at each step, median time to restore, drawn as SVG.',
          security: adminBrowserSecurity,
          parameters: [{ name: 'days', in: 'query', required: false, schema: { type: 'string', pattern: '^[0-9]{1,2}$' }, description: 'Days back from today, 1 to 90 (default 14).' }],
          responses: {
            '200': html('The funnel.'),
            '400': html('days is not 1 to 90.'),
            '401': errorOrPage('No session: the login page (HTML), or a 401 error (JSON).'),
          },
        },
      },
      '/admin/customers/{id}/refresh': {
        post: {
          summary: 'Queue a refresh of this customer from Stripe (the customer page\'s button) and 303 back to its page.',
          security: adminBrowserSecurity,
          parameters: [{ name: 'id', in: 'path', required: true, schema: customerIdSchema }],
          requestBody: formBody({ csrf: { type: 'string' } }, []),
          responses: {
            '303': { description: 'Queued; back to the customer page.' },
            '401': errorOrPage('No session and no admin token.'),
            '403': error('On a session: from another site (`cross_site`) or without its CSRF token (`csrf`).'),
            '404': html('No such customer.'),
            '413': error('Body larger than 2 KB.'),
          },
        },
      },
      '/admin/customers/{id}': {
        get: {
          summary: 'One customer: projection, entitlement now, its refresh, card-expiry and notice jobs (JSON); a browser asking for HTML gets the reader\'s story.',
          security: adminBrowserSecurity,
          parameters: [{ name: 'id', in: 'path', required: true, schema: customerIdSchema }],
          responses: {
            '200': { description: 'The customer (JSON), or the reader\'s story (HTML).', content: { 'application/json': { schema: ref('AdminCustomer') }, 'text/html': { schema: { type: 'string' } } } },
            '400': errorOrPage('Not a customer id (`invalid_customer`), or not valid percent-encoding (`invalid_path`).'),
            '401': errorOrPage('Missing or wrong admin token (JSON), or no session (the login page).'),
            '404': errorOrPage('No projection for this customer (or admin disabled).'),
          },
        },
      },
      '/admin/grants': {
        post: {
          summary: 'Give a reader access to one feature until an instant, with who and why (answers `status: "granted"`, `reason: "manual_grant"` while no subscription answers better).',
          security: adminSecurity,
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['feature', 'until', 'reason'],
                  properties: {
                    customer: customerIdSchema,
                    user: { type: 'string', maxLength: 256 },
                    feature: { type: 'string', pattern: FEATURE_KEY_PATTERN },
                    until: { ...isoInstant, description: 'Future, at most 366 days away.' },
                    reason: { type: 'string', maxLength: 500 },
                    by: { type: 'string', maxLength: 100, description: 'Who grants (default "admin").' },
                  },
                  description: 'Exactly one of customer or user.',
                },
              },
            },
          },
          responses: {
            '201': json(ref('Grant'), 'The grant.'),
            '400': error('Not exactly one valid customer or user, a malformed or unknown feature (`invalid_feature`, `unknown_feature`), an until that is not a future instant (`invalid_until`), no reason, or a body that is not JSON.'),
            '401': error('Missing or wrong admin token.'),
            '404': error('Admin disabled.'),
            '413': error('Body larger than 4 KB.'),
            '415': error('A Content-Encoding or charset the parser does not read.'),
          },
        },
        get: {
          summary: "A reader's grants, live and ended.",
          security: adminSecurity,
          parameters: [
            { name: 'customer', in: 'query', schema: customerIdSchema },
            { name: 'user', in: 'query', schema: { type: 'string', maxLength: 256 } },
          ],
          responses: {
            '200': json({ type: 'object', additionalProperties: false, required: ['grants'], properties: { grants: { type: 'array', items: ref('Grant') } } }, 'Oldest first.'),
            '400': error('Not exactly one valid customer or user.'),
            '401': error('Missing or wrong admin token.'),
            '404': error('Admin disabled.'),
          },
        },
      },
      '/admin/grants/{id}': {
        delete: {
          summary: 'Revoke a grant (the change is published on the change feed).',
          security: adminSecurity,
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^gr_[A-Za-z0-9]{24}$' } }],
          responses: {
            '204': { description: 'Revoked.' },
            '400': error('Not a grant id (`invalid_grant`).'),
            '401': error('Missing or wrong admin token.'),
            '404': error('No such grant (or admin disabled).'),
          },
        },
      },
      '/admin/resync': {
        post: {
          summary: 'Start a resync from Stripe as a job (or get the one already waiting or running).',
          security: adminSecurity,
          requestBody: { required: false, content: { 'application/json': { schema: { type: 'object', properties: { fresh: { type: 'boolean' } } } } } },
          responses: {
            '202': json(ref('AdminJob'), 'The resync job.'),
            '400': error('A body that is not JSON, or not readable (`malformed_body`).'),
            '401': error('Missing or wrong admin token.'),
            '404': error('Admin disabled.'),
            '413': error('Body larger than 1 KB.'),
            '415': error('A Content-Encoding or charset the parser does not read.'),
          },
        },
      },
      '/admin/resync/{jobId}': {
        get: {
          summary: "A resync job's state and progress (phase, customers, written, stale, retries).",
          security: adminSecurity,
          parameters: [{ name: 'jobId', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            '200': json(ref('AdminJob'), 'The job.'),
            '400': error('A job id that is not valid percent-encoding (`invalid_path`).'),
            '401': error('Missing or wrong admin token.'),
            '404': error('No such job.'),
          },
        },
      },
      '/admin/recover-events': {
        post: {
          summary: "Run missed-event recovery now (it also runs on a schedule).",
          security: adminSecurity,
          responses: { '202': json(ref('AdminJob'), 'The recovery job.'), '401': error('Missing or wrong admin token.'), '404': error('Admin disabled.') },
        },
      },
      '/admin/queues': {
        get: {
          summary: 'Bull Board: every queue, its jobs, progress and failures (HTML UI and its JSON API below this path).',
          security: adminSecurity,
          responses: {
            '200': html('The dashboard.'),
            '400': error('A path below it that is not valid percent-encoding (`invalid_path`).'),
            '401': error('Missing or wrong admin token.'),
            '404': error('Admin disabled.'),
          },
        },
      },
    },
  };
}

export function createOpenApiRouter(): Router {
  const router = Router();
  const document = JSON.stringify(buildOpenApiDocument());
  router.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(document);
  });
  return router;
}
