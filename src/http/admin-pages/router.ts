/**
 * The admin pages a browser opens (mounted behind requireAdmin): the search page, a reader's story
 * (`/admin/customers/:id` when HTML is asked for; scripts asking for JSON get the JSON view), search by
 * user id or e-mail, and the recovery funnel. Every form here posts back with the session's CSRF token.
 */
import express, { Router, type RequestHandler } from 'express';
import type { Clock, PolicySettings } from '../../domain/projection.js';
import { decideEntitlement } from '../../domain/entitlement-policy.js';
import { isCustomerId } from '../../domain/stripe-ids.js';
import { maskEmail } from '../../domain/mask-email.js';
import type { SubscriberStore } from '../../store/subscriber-store.js';
import type { CustomerTimeline } from '../../store/customer-timeline.js';
import type { EmailIndex } from '../../store/email-index.js';
import type { RecoveryFunnelStore } from '../../store/recovery-funnel.js';
import { sessionOf } from '../admin-session.js';
import { html, sendAdminPage } from './layout.js';
import { customerPageBody } from './customer-page.js';
import { recoveryPageBody, recoveryDays } from './recovery-page.js';

export interface AdminPagesDeps {
  store: Pick<SubscriberStore, 'read' | 'readMany' | 'readByUser'>;
  clock: Clock;
  policy: PolicySettings;
  timeline: CustomerTimeline;
  emailIndex: EmailIndex;
  funnel: RecoveryFunnelStore;
  /** Queues a refresh of the customer from Stripe (the customer page's button). */
  requestRefresh: (customerId: string) => Promise<void>;
  /** The timeline entries shown on a customer page. */
  timelineLimit?: number;
}

const wantsHtml: RequestHandler = (req, _res, next) => {
  if (req.accepts(['json', 'html']) !== 'html') return next('route');
  next();
};

export function createAdminPagesRouter(deps: AdminPagesDeps, requireCsrf: RequestHandler): Router {
  const router = Router();
  const csrfOf = (res: express.Response) => sessionOf(res)?.csrf ?? null;

  router.get('/admin', (_req, res) => {
    sendAdminPage(
      res,
      200,
      { title: 'Find a reader', csrf: csrfOf(res) },
      html`<form method="get" action="/admin/search">
<p><label>Customer id, user id or e-mail address <input type="text" name="q" required maxlength="320" autofocus></label>
<button type="submit">Find</button></p>
</form>
<p class="muted">Also: <a href="/admin/recovery">the recovery funnel</a>, <a href="/admin/queues">the job queues</a>.</p>`,
    );
  });

  router.get('/admin/search', async (req, res) => {
    const q = typeof req.query.q === 'string' ? req.query.q.trim() : '';
    const frame = { title: 'Find a reader', csrf: csrfOf(res) };
    if (q === '' || q.length > 320) {
      sendAdminPage(res, 400, frame, html`<p class="error">Give a customer id (cus_…), a user id or an e-mail address (at most 320 characters).</p><p><a href="/admin">Back</a></p>`);
      return;
    }
    let found: Array<{ customer: string; user: string | null; email: string | null }>;
    const byCustomerId: boolean = isCustomerId(q);
    if (byCustomerId) {
      const projection = await deps.store.read(q);
      found = projection ? [projection] : [];
    } else if (q.includes('@')) {
      const states = await deps.store.readMany(await deps.emailIndex.customersOf(q));
      // The index is by digest: make sure the stored address really is this one.
      found = states.map((s) => s.projection).filter((p) => p.email?.trim().toLowerCase() === q.toLowerCase());
    } else {
      found = await deps.store.readByUser(q);
    }
    if (found.length === 1) {
      res.redirect(303, `/admin/customers/${encodeURIComponent(found[0]!.customer)}`);
      return;
    }
    const shown = q.includes('@') ? (maskEmail(q) ?? '') : q;
    if (found.length === 0) {
      sendAdminPage(res, 404, frame, html`<p>No reader found for <code>${shown}</code>.</p><p><a href="/admin">Search again</a></p>`);
      return;
    }
    sendAdminPage(
      res,
      200,
      frame,
      html`<p>${found.length} customers match <code>${shown}</code>:</p><ul>${found.map(
        (p) => html`<li><a href="/admin/customers/${encodeURIComponent(p.customer)}">${p.customer}</a> user ${p.user ?? '—'}, ${maskEmail(p.email) ?? 'no e-mail'}</li>`,
      )}</ul>`,
    );
  });

  router.get('/admin/customers/:id', wantsHtml, async (req, res) => {
    const customerId = String(req.params.id);
    const frame = { title: `Reader ${customerId}`, csrf: csrfOf(res) };
    if (!isCustomerId(customerId)) {
      sendAdminPage(res, 400, { ...frame, title: 'Not a customer id' }, html`<p class="error">A customer id looks like cus_… .</p>`);
      return;
    }
    const [projection, timeline] = await Promise.all([deps.store.read(customerId), deps.timeline.read(customerId, deps.timelineLimit ?? 200)]);
    if (!projection) {
      sendAdminPage(res, 404, frame, html`<p>subgate holds no projection of this customer.</p>`);
      return;
    }
    const entitlement = decideEntitlement(projection, deps.clock.now(), deps.policy);
    sendAdminPage(res, 200, frame, customerPageBody({ customerId, projection, entitlement, timeline, csrf: frame.csrf }));
  });

  router.post(
    '/admin/customers/:id/refresh',
    express.urlencoded({ extended: false, limit: '2kb', parameterLimit: 10 }),
    requireCsrf,
    async (req, res) => {
      const customerId = String(req.params.id);
      if (!isCustomerId(customerId) || !(await deps.store.read(customerId))) {
        sendAdminPage(res, 404, { title: 'No such reader', csrf: csrfOf(res) }, html`<p>subgate holds no projection of this customer.</p>`);
        return;
      }
      await deps.requestRefresh(customerId);
      await deps.timeline.record(customerId, { kind: 'operator', text: 'An operator asked for a refresh from Stripe' });
      res.redirect(303, `/admin/customers/${encodeURIComponent(customerId)}`);
    },
  );

  router.get('/admin/recovery', async (req, res) => {
    const days = recoveryDays(deps.clock.now(), req.query.days);
    if (days === null) {
      sendAdminPage(res, 400, { title: 'Recovery funnel', csrf: csrfOf(res) }, html`<p class="error">days must be a whole number from 1 to 90.</p>`);
      return;
    }
    const figures = await deps.funnel.read(days);
    sendAdminPage(res, 200, { title: 'Recovery funnel', csrf: csrfOf(res) }, recoveryPageBody(days, figures));
  });

  return router;
}
