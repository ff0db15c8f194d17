/**
 * The few HTML pages a reader may see from subgate itself: a link that no longer works, a temporary
 * problem, and "your card is updated" when no publisher page is configured. Plain, friendly, no scripts.
 * All their styling is the one <style> element below, so the pages' Content-Security-Policy can allow
 * exactly that (by its hash) and nothing else: send them with PAGE_HEADERS.
 */
import { escapeHtml } from '../domain/notice-templates.js';
import { ownPageHeaders } from './security-headers.js';

export interface Page {
  status: number;
  html: string;
}

const PAGE_STYLE =
  'body{font-family:Georgia,serif;max-width:34rem;margin:4rem auto;padding:0 1rem;line-height:1.5;color:#1a1a1a}' +
  'h1{font-size:1.5rem}.publisher{color:#666}';

export const PAGE_HEADERS = ownPageHeaders([PAGE_STYLE]);

function page(status: number, title: string, paragraphs: string[], publisherName: string): Page {
  return {
    status,
    html: [
      '<!doctype html>',
      `<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)}</title>`,
      `<style>${PAGE_STYLE}</style></head>`,
      '<body>',
      `<h1>${escapeHtml(title)}</h1>`,
      ...paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`),
      `<p class="publisher">${escapeHtml(publisherName)}</p>`,
      '</body></html>',
    ].join('\n'),
  };
}

export type LinkProblem = 'malformed' | 'forged' | 'expired';

const STATUS: Record<LinkProblem, number> = { malformed: 400, forged: 403, expired: 410 };

export function linkProblemPage(problem: LinkProblem, publisherName: string, supportEmail: string): Page {
  const body =
    problem === 'expired'
      ? ['This link to update your card has expired.', 'Links in our e-mails stay valid for a limited time. Open the most recent e-mail from us, or sign in to your account to update your card.']
      : ['This link to update your card does not work. It may have been cut short when it was copied.', 'Open the link straight from the e-mail, or sign in to your account to update your card.'];
  return page(STATUS[problem], problem === 'expired' ? 'This link has expired' : 'This link does not work', [...body, `If you need help, write to ${supportEmail}.`], publisherName);
}

export function unavailablePage(publisherName: string, supportEmail: string): Page {
  return page(503, 'Please try again in a moment', ['We could not open the card update page just now. Please try the link again in a minute.', `If it keeps happening, write to ${supportEmail}.`], publisherName);
}

/** The link was opened more often than its budget of portal sessions allows: wait, or use the page already open. */
export function tooManyAttemptsPage(retryAfterSeconds: number, publisherName: string, supportEmail: string): Page {
  const minutes = Math.max(1, Math.ceil(retryAfterSeconds / 60));
  return page(
    429,
    'Please wait a few minutes',
    [
      'This link to update your card has been opened several times in the last few minutes, so we have paused it for a moment.',
      `If a card update page is already open, you can finish there. Otherwise please try the link again in ${minutes === 1 ? 'a minute' : `${minutes} minutes`}.`,
      `If you need help, write to ${supportEmail}.`,
    ],
    publisherName,
  );
}

export function cardUpdatedPage(publisherName: string): Page {
  return page(200, 'Thank you', ['Your card details are updated. You can close this page and carry on reading.'], publisherName);
}
