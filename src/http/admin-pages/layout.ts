/**
 * The frame of every admin page: server-rendered HTML, no script, one <style> element allowed by its hash
 * (ADMIN_PAGE_HEADERS), forms that post back to this origin only. Every value a page shows goes through
 * `html` (escaped); markup is built only from the template literals here and in the pages.
 */
import type { Response } from 'express';
import { escapeHtml } from '../../domain/notice-templates.js';
import { ownPageHeaders } from '../security-headers.js';

const ADMIN_STYLE =
  'body{font-family:system-ui,sans-serif;margin:0;color:#1a1a1a;background:#fafafa}' +
  'header{background:#1f2937;color:#fff;padding:.6rem 1rem;display:flex;gap:1rem;align-items:center;flex-wrap:wrap}' +
  'header a{color:#e5e7eb}header form{margin:0 0 0 auto}main{padding:1rem;max-width:72rem}' +
  'table{border-collapse:collapse;width:100%;background:#fff}th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top;font-size:.9rem}' +
  'th{background:#f3f4f6}.ok{color:#166534}.bad{color:#991b1b}.muted{color:#6b7280}code{font-size:.85rem}' +
  '.answer{font-size:1.2rem;padding:.6rem;border:1px solid #ddd;background:#fff}.error{color:#991b1b;font-weight:600}' +
  'input[type=text],input[type=password]{padding:.3rem;min-width:18rem}svg{background:#fff;border:1px solid #ddd}';

export const ADMIN_PAGE_HEADERS = ownPageHeaders([ADMIN_STYLE], { forms: 'self' });

/** Marks a string as markup already built safely (the result of `html`). */
export interface Markup {
  readonly __markup: string;
}

const isMarkup = (value: unknown): value is Markup => typeof value === 'object' && value !== null && '__markup' in value;

type Interpolated = string | number | null | undefined | Markup | readonly Interpolated[];

function render(value: Interpolated): string {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.map(render).join('');
  if (isMarkup(value)) return value.__markup;
  return escapeHtml(String(value));
}

/** A tagged template: literal parts are markup, every interpolated value is escaped (unless it is Markup). */
export function html(strings: TemplateStringsArray, ...values: Interpolated[]): Markup {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? '');
  });
  return { __markup: out };
}

/** Markup made by code (the SVG chart) from numbers and escaped text only. */
export function trusted(markup: string): Markup {
  return { __markup: markup };
}

export interface PageFrame {
  title: string;
  /** The session's CSRF token (for the logout form); null on the login page. */
  csrf: string | null;
}

export function adminPage(frame: PageFrame, body: Markup): string {
  const nav =
    frame.csrf === null
      ? html``
      : html`<a href="/admin">Search</a><a href="/admin/recovery">Recovery funnel</a><a href="/admin/queues">Queues</a>
<form method="post" action="/admin/logout"><input type="hidden" name="csrf" value="${frame.csrf}"><button type="submit">Log out</button></form>`;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="referrer" content="no-referrer"><title>${frame.title} · subgate admin</title>
<style>${trusted(ADMIN_STYLE)}</style></head>
<body><header><strong>subgate admin</strong>${nav}</header>
<main><h1>${frame.title}</h1>
${body}
</main></body></html>`.__markup;
}

export function sendAdminPage(res: Response, status: number, frame: PageFrame, body: Markup): void {
  res.status(status).set(ADMIN_PAGE_HEADERS).set('Cache-Control', 'no-store').type('html').send(adminPage(frame, body));
}

export const when = (at: number | null | undefined): string => (typeof at === 'number' && Number.isFinite(at) ? new Date(at).toISOString().replace('.000Z', 'Z') : '—');
