/**
 * The admin pages a browser opens (mounted behind requireAdmin): the search page, a reader's story
 * (`/admin/customers/:id` when HTML is asked for; scripts asking for JSON get the JSON view), search by
 * user id or e-mail, and the recovery funnel. Every form here posts back with the session's CSRF token.
 */
import { Router } from 'express';
import { sessionOf } from '../admin-session.js';
import { html, sendAdminPage } from './layout.js';

export function createAdminPagesRouter(): Router {
  const router = Router();

  router.get('/admin', (_req, res) => {
    sendAdminPage(
      res,
      200,
      { title: 'Find a reader', csrf: sessionOf(res)?.csrf ?? '' },
      html`<form method="get" action="/admin/search">
<p><label>Customer id, user id or e-mail address <input type="text" name="q" required maxlength="320" autofocus></label>
<button type="submit">Find</button></p>
</form>
<p class="muted">Also: <a href="/admin/recovery">the recovery funnel</a>, <a href="/admin/queues">the job queues</a>.</p>`,
    );
  });

  return router;
}
