/**
 * The reader-facing update-card link. GET /billing/update-card?token=… checks the signed token and, if it
 * holds, opens a Stripe Billing Portal session on the card-update flow (or hands out the one opened moments
 * ago) and answers 303 to it; a tampered, malformed or expired token, or a link past the customer's session
 * budget, gets a friendly HTML page (4xx) and no Stripe call. GET /billing/return?token=…
 * is where the portal sends the reader back: re-read from Stripe at once, make the new card count, then
 * 303 to the publisher's page. Tokens never reach a log, and the pages send no Referer onwards.
 */
import { Router, type Response } from 'express';
import type { Logger } from '../logger.js';
import type { UpdateCardLinks } from '../billing/update-card-links.js';
import type { RestoreAccess } from '../flows/restore-access.js';
import type { OpenPortalSession } from '../billing/portal-sessions.js';
import { PAGE_HEADERS, cardUpdatedPage, linkProblemPage, tooManyAttemptsPage, unavailablePage, type Page } from './billing-pages.js';

export interface BillingRouteDeps {
  links: UpdateCardLinks;
  /** Opens (or reuses) the customer's portal session within their budget. */
  openPortal: OpenPortalSession;
  restoreAccess: RestoreAccess;
  /** Where the reader lands after the portal; without it, a "thank you" page. */
  publisherReturnUrl: string | undefined;
  publisherName: string;
  supportEmail: string;
  logger: Logger;
}

function sendPage(res: Response, page: Page): void {
  res.status(page.status).set(PAGE_HEADERS).type('html').send(page.html);
}

export function createBillingRouter(deps: BillingRouteDeps): Router {
  const router = Router();
  const log = deps.logger.child({ component: 'billing-link' });

  router.use('/billing', (_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Referrer-Policy', 'no-referrer');
    next();
  });

  router.get('/billing/update-card', async (req, res) => {
    const check = deps.links.verify(req.query.token);
    if (!check.ok) {
      log.info({ reason: check.reason }, 'update-card link refused');
      sendPage(res, linkProblemPage(check.reason, deps.publisherName, deps.supportEmail));
      return;
    }
    let opening;
    try {
      opening = await deps.openPortal(check.customerId, deps.links.returnUrlFor(String(req.query.token)));
    } catch (err) {
      log.warn({ customerId: check.customerId, reason: (err as Error).message }, 'billing portal session failed');
      sendPage(res, unavailablePage(deps.publisherName, deps.supportEmail));
      return;
    }
    if (opening.kind === 'limited') {
      const retryAfterSeconds = Math.max(1, Math.ceil(opening.retryAfterMs / 1000));
      log.info({ customerId: check.customerId, retryAfterSeconds }, 'update-card link over its portal session budget');
      res.setHeader('Retry-After', String(retryAfterSeconds));
      sendPage(res, tooManyAttemptsPage(retryAfterSeconds, deps.publisherName, deps.supportEmail));
      return;
    }
    if (opening.kind === 'opened') log.info({ customerId: check.customerId, session: opening.sessionId }, 'billing portal session opened');
    else log.debug({ customerId: check.customerId }, 'billing portal session reused');
    res.redirect(303, opening.url);
  });

  router.get('/billing/return', async (req, res) => {
    const check = deps.links.verify(req.query.token);
    if (!check.ok) {
      log.info({ reason: check.reason }, 'update-card return refused');
      sendPage(res, linkProblemPage(check.reason, deps.publisherName, deps.supportEmail));
      return;
    }
    try {
      await deps.restoreAccess(check.customerId);
    } catch (err) {
      // The reader has done their part; the webhooks will bring the change in. Don't strand them here.
      log.warn({ customerId: check.customerId, reason: (err as Error).message }, 'immediate re-sync after portal failed');
    }
    if (deps.publisherReturnUrl) res.redirect(303, deps.publisherReturnUrl);
    else sendPage(res, cardUpdatedPage(deps.publisherName));
  });

  return router;
}
