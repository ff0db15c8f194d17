/**
 * The example content service: an Express site whose articles are gated by subgate through
 * `@subgate/client`, imported by its package name as a content service in its own repository would. Sign-in picks a
 * demo reader and keeps their user id in a cookie; the article route is one `requireEntitlement(...)`.
 */
import express, { type Express, type Request } from 'express';
import type { EntitlementClient } from '@subgate/client';
import { requireEntitlement } from '@subgate/client/express';
import { ARTICLES, articleBySlug, type Section } from './articles.js';
import { accountPage, articlePage, homePage, notFoundPage, sectionsHomePage, signInPage, subscribePage, type DemoReader } from './pages.js';

export interface ContentSiteDeps {
  entitlements: Pick<EntitlementClient, 'checkUser'>;
  readers: readonly DemoReader[];
  /**
   * Sections sold as products of their own (News, Puzzles), each gated on its feature at /<path>/:slug.
   * Without them the site is one paywall over /articles/:slug, asking subgate about its default feature.
   */
  sections?: readonly Section[];
}

const COOKIE = 'demo_reader';

function cookie(req: Request, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return null;
      }
    }
  }
  return null;
}

/** Only same-site paths as a post-sign-in destination: no open redirect. */
const localPath = (value: unknown) => (typeof value === 'string' && /^\/(?![/\\])/.test(value) ? value : '/');

export function createContentSite(deps: ContentSiteDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  const readerOf = (req: Request) => {
    const id = cookie(req, COOKIE);
    return deps.readers.find((r) => r.id === id) ?? null;
  };
  const html = (res: express.Response, status: number, body: string) => {
    res.status(status).set({ 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'private, no-store' }).send(body);
  };

  const sections = deps.sections ?? [];
  app.get('/', (req, res) => html(res, 200, sections.length > 0 ? sectionsHomePage(sections, readerOf(req)) : homePage(ARTICLES, readerOf(req))));
  app.get('/signin', (req, res) => html(res, 200, signInPage(deps.readers, localPath(req.query.next))));
  app.post('/signin', express.urlencoded({ extended: false, limit: '4kb' }), (req, res) => {
    const reader = deps.readers.find((r) => r.id === req.body?.reader);
    if (!reader) return html(res, 400, signInPage(deps.readers, '/'));
    res.cookie(COOKIE, reader.id, { httpOnly: true, sameSite: 'lax', path: '/' });
    res.redirect(303, localPath(req.body?.next));
  });
  app.post('/signout', (_req, res) => {
    res.clearCookie(COOKIE, { path: '/' });
    res.redirect(303, '/');
  });
  app.get('/subscribe', (req, res) => html(res, 200, subscribePage(readerOf(req))));
  app.get('/account', (req, res) => html(res, 200, accountPage(readerOf(req))));

  // The one line that gates: sets req.entitlement for the signed-in reader (or 'anonymous').
  const gate = requireEntitlement({ client: deps.entitlements, getUserId: (req) => readerOf(req)?.id });
  app.get('/articles/:slug', (req, res, next) => (articleBySlug(String(req.params.slug)) ? gate(req, res, next) : next()), (req, res) => {
    const article = articleBySlug(String(req.params.slug))!;
    html(res, 200, articlePage(article, readerOf(req), req.entitlement!, req.originalUrl));
  });

  // One gate per section: the same line, with the feature that section sells.
  for (const section of sections) {
    const sectionGate = requireEntitlement({ client: deps.entitlements, feature: section.feature, getUserId: (req) => readerOf(req)?.id });
    const find = (slug: string) => section.articles.find((a) => a.slug === slug);
    app.get(`/${section.path}/:slug`, (req, res, next) => (find(String(req.params.slug)) ? sectionGate(req, res, next) : next()), (req, res) => {
      html(res, 200, articlePage(find(String(req.params.slug))!, readerOf(req), req.entitlement!, req.originalUrl, section));
    });
  }

  app.use((req, res) => html(res, 404, notFoundPage(readerOf(req))));
  return app;
}
