/**
 * Who may use /admin: a script with `Authorization: Bearer $ADMIN_TOKEN` (as before), or a browser that
 * logged in at /admin/login with that token and holds the session cookie (HttpOnly, SameSite=Strict,
 * Secure when PUBLIC_BASE_URL is https, expiring with the session; logout revokes it in Redis).
 *   - A request with neither gets the login page (a browser asking for HTML) or a 401 JSON error, and no data.
 *   - A state-changing request on a session must come from this origin (Origin, else Sec-Fetch-Site), and
 *     subgate's own forms also carry the session's CSRF token (checked by `requireCsrf`).
 *   - Failed logins are counted per client address; past ADMIN_LOGIN_MAX_FAILURES in the window every
 *     attempt is refused (429) without the token even being compared.
 */
import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AdminSession, AdminSessionStore } from '../store/admin-sessions.js';
import { createTokenCheck } from './bearer-auth.js';
import { AppError, AuthError } from './errors.js';
import { html, sendAdminPage, type Markup } from './admin-pages/layout.js';

export const ADMIN_COOKIE = 'subgate_admin';

export interface AdminSessionDeps {
  adminToken: string;
  sessions: AdminSessionStore;
  /** PUBLIC_BASE_URL: its scheme decides Secure, its origin is one a form may come from. */
  publicBaseUrl: string;
  maxLoginFailures: number;
  /** ADMIN_SESSION_TTL_MINUTES, for the cookie's Max-Age (the store judges expiry itself). */
  sessionTtlMs: number;
}

export interface AdminAuth {
  /** /admin/login (GET, POST) and /admin/logout (POST); mount before `requireAdmin`. */
  router: Router;
  requireAdmin: RequestHandler;
  /** For subgate's own forms: the posted `csrf` field (or X-CSRF-Token) must be the session's token. */
  requireCsrf: RequestHandler;
}

/** The session a request was let in on (absent for a bearer-token request). */
export function sessionOf(res: Response): AdminSession | null {
  return (res.locals.adminSession as AdminSession | undefined) ?? null;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function cookieValue(req: Request, name: string): string | null {
  const header = req.headers.cookie;
  if (!header || header.length > 8192) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

const sameSecret = (a: string, b: string) => {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
};

/** A path under /admin to return to after logging in; anything else (another site, `//evil`) is /admin. */
function safeNext(value: unknown): string {
  return typeof value === 'string' && /^\/admin(\/[A-Za-z0-9_\-./?=&%]*)?$/.test(value) && !value.includes('//') && value.length <= 512 ? value : '/admin';
}

const wantsPage = (req: Request) => SAFE_METHODS.has(req.method) && req.accepts(['json', 'html']) === 'html';

export function createAdminAuth(deps: AdminSessionDeps): AdminAuth {
  const checkToken = createTokenCheck([deps.adminToken]);
  const secure = deps.publicBaseUrl.startsWith('https://');
  const publicOrigin = new URL(deps.publicBaseUrl).origin;

  const setCookie = (res: Response, value: string, maxAgeSeconds: number) =>
    res.append(
      'Set-Cookie',
      `${ADMIN_COOKIE}=${value}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`,
    );

  /** Origins a form may post from: PUBLIC_BASE_URL's, and the one the request itself was addressed to. */
  function sameOrigin(req: Request): boolean {
    const origin = req.headers.origin;
    if (typeof origin === 'string' && origin !== 'null') {
      const own = `${req.protocol}://${req.headers.host ?? ''}`;
      return origin === publicOrigin || origin === own;
    }
    // No Origin (older browsers on same-origin form posts): the fetch metadata must say same-origin.
    return req.headers['sec-fetch-site'] === 'same-origin';
  }

  function loginPage(res: Response, status: number, next: string, message: string | null) {
    const body: Markup = html`${message ? html`<p class="error">${message}</p>` : ''}
<form method="post" action="/admin/login">
<input type="hidden" name="next" value="${next}">
<p><label>Admin token <input type="password" name="token" autocomplete="current-password" required></label></p>
<p><button type="submit">Log in</button></p>
</form>`;
    sendAdminPage(res, status, { title: 'Log in', csrf: null }, body);
  }

  const router = Router();
  router.get('/admin/login', (req, res) => loginPage(res, 200, safeNext(req.query.next), null));
  router.post('/admin/login', express.urlencoded({ extended: false, limit: '2kb', parameterLimit: 10 }), async (req, res) => {
    const next = safeNext((req.body as Record<string, unknown> | undefined)?.next);
    if (!sameOrigin(req)) throw new AppError(403, 'cross_site', 'This form may only be posted from this site.');
    const address = req.socket.remoteAddress ?? 'unknown';
    if ((await deps.sessions.failures(address)) >= deps.maxLoginFailures) {
      res.setHeader('Retry-After', '900');
      loginPage(res, 429, next, 'Too many failed attempts from this address. Wait a few minutes and try again.');
      return;
    }
    const token = (req.body as Record<string, unknown> | undefined)?.token;
    if (typeof token !== 'string' || token.length > 4096 || !checkToken(`Bearer ${token}`)) {
      await deps.sessions.recordFailure(address);
      loginPage(res, 401, next, 'That is not the admin token.');
      return;
    }
    const session = await deps.sessions.create();
    setCookie(res, session.id, Math.ceil(deps.sessionTtlMs / 1000));
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(303, next);
  });

  const requireCsrf: RequestHandler = (req, _res, next) => {
    const session = sessionOf(_res);
    if (!session) return next();
    const body = req.body as Record<string, unknown> | undefined;
    const presented = typeof body?.csrf === 'string' ? body.csrf : req.headers['x-csrf-token'];
    if (typeof presented !== 'string' || !sameSecret(presented, session.csrf)) {
      throw new AppError(403, 'csrf', 'This form has expired or did not come from this site; reload the page and try again.');
    }
    next();
  };

  router.post('/admin/logout', express.urlencoded({ extended: false, limit: '2kb', parameterLimit: 10 }), async (req, res) => {
    const id = cookieValue(req, ADMIN_COOKIE);
    const session = id ? await deps.sessions.read(id) : null;
    if (!session) {
      res.redirect(303, '/admin/login');
      return;
    }
    if (!sameOrigin(req)) throw new AppError(403, 'cross_site', 'This form may only be posted from this site.');
    res.locals.adminSession = session;
    requireCsrf(req, res, () => undefined);
    await deps.sessions.revoke(session.id);
    setCookie(res, '', 0);
    res.redirect(303, '/admin/login');
  });

  const requireAdmin: RequestHandler = async (req, res, next) => {
    const authorization = req.headers.authorization;
    if (authorization !== undefined) {
      if (!checkToken(authorization)) throw new AuthError();
      return next();
    }
    const id = cookieValue(req, ADMIN_COOKIE);
    const session = id ? await deps.sessions.read(id) : null;
    if (!session) {
      if (wantsPage(req)) {
        res.setHeader('WWW-Authenticate', 'Bearer');
        loginPage(res, 401, safeNext(req.originalUrl), id ? 'Your session has ended. Log in again.' : null);
        return;
      }
      throw new AuthError();
    }
    if (!SAFE_METHODS.has(req.method) && !sameOrigin(req)) throw new AppError(403, 'cross_site', 'A change to /admin may only come from this site.');
    res.locals.adminSession = session;
    next();
  };

  return { router, requireAdmin, requireCsrf };
}
