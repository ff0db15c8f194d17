/**
 * Server-side HTML for the example site. Every value that is not a literal in this file goes through
 * escapeHtml (text and attributes alike), including URLs subgate hands us.
 */
import type { GateDecision } from '@subgate/client';
import type { Article, Section } from './articles.js';

export interface DemoReader {
  id: string;
  name: string;
  blurb: string;
}

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"'`]/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** Only http(s) links go into an href; anything else becomes a harmless '#'. */
function safeHref(url: string): string {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? escapeHtml(parsed.href) : '#';
  } catch {
    return '#';
  }
}

const STYLE = `
body{font:17px/1.55 Georgia,serif;max-width:42rem;margin:2rem auto;padding:0 1rem;color:#222}
header{display:flex;justify-content:space-between;align-items:baseline;border-bottom:1px solid #ddd;margin-bottom:1.5rem}
header a{color:#222;text-decoration:none}.who{font:14px system-ui,sans-serif}
.teaser{font-size:1.1em}.paywall{border:1px solid #c9b26b;background:#fdf8e8;padding:1rem 1.25rem;border-radius:6px;font-family:system-ui,sans-serif}
.paywall h2{margin-top:0;font-size:1.2rem}.button{display:inline-block;background:#1f4e79;color:#fff;padding:.5rem 1rem;border-radius:4px;text-decoration:none;border:0;font:inherit;cursor:pointer}
.notice{background:#eef5fb;border-left:4px solid #1f4e79;padding:.5rem 1rem;font-family:system-ui,sans-serif}
ul.readers{list-style:none;padding:0}ul.readers li{margin:.5rem 0}
`;

export function layout(title: string, reader: DemoReader | null, main: string): string {
  const who = reader
    ? `Signed in as <strong data-reader="${escapeHtml(reader.id)}">${escapeHtml(reader.name)}</strong> · <form method="post" action="/signout" style="display:inline"><button class="linkish" data-signout>Sign out</button></form>`
    : `<a href="/signin" data-signin-link>Sign in</a>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)} · The Evening Lamp</title><style>${STYLE}</style></head>
<body><header><h1><a href="/">The Evening Lamp</a></h1><span class="who">${who}</span></header>
<main>${main}</main></body></html>`;
}

export function homePage(articles: readonly Article[], reader: DemoReader | null): string {
  const items = articles
    .map((a) => `<article><h2><a href="/articles/${escapeHtml(a.slug)}">${escapeHtml(a.headline)}</a></h2><p>${escapeHtml(a.teaser)}</p></article>`)
    .join('\n');
  return layout('Stories', reader, items);
}

/** The home page of a site sold by section: each section's articles under its name. */
export function sectionsHomePage(sections: readonly Section[], reader: DemoReader | null): string {
  const blocks = sections
    .map(
      (section) =>
        `<section data-section="${escapeHtml(section.feature)}"><h2>${escapeHtml(section.name)}</h2>` +
        section.articles.map((a) => `<article><h3><a href="/${escapeHtml(section.path)}/${escapeHtml(a.slug)}">${escapeHtml(a.headline)}</a></h3><p>${escapeHtml(a.teaser)}</p></article>`).join('\n') +
        '</section>',
    )
    .join('\n');
  return layout('Stories and puzzles', reader, blocks);
}

export function signInPage(readers: readonly DemoReader[], next: string): string {
  const items = readers
    .map(
      (r) => `<li><form method="post" action="/signin"><input type="hidden" name="reader" value="${escapeHtml(r.id)}">` +
        `<input type="hidden" name="next" value="${escapeHtml(next)}">` +
        `<button class="button" data-pick="${escapeHtml(r.id)}">Continue as ${escapeHtml(r.name)}</button> ${escapeHtml(r.blurb)}</form></li>`,
    )
    .join('\n');
  return layout(
    'Sign in',
    null,
    `<h2>Sign in</h2><p>This is a demo: pick a reader to be. There are no passwords.</p><ul class="readers">${items}</ul>`,
  );
}

/** The article: all of it for an entitled reader, else the teaser and the paywall variant for the status. */
export function articlePage(article: Article, reader: DemoReader | null, decision: GateDecision, path: string, section?: Section): string {
  const head = `<h2 data-headline>${escapeHtml(article.headline)}</h2><p class="teaser" data-teaser>${escapeHtml(article.teaser)}</p>`;
  if (decision.entitled) {
    const graceNote =
      decision.status === 'grace_period' && decision.update_card_url
        ? `<p class="notice" data-grace>There is a problem with your card on file. Make sure it is up to date so your reading is not interrupted. <a class="button" href="${safeHref(decision.update_card_url)}" data-update-card>Update your card</a></p>`
        : '';
    const body = article.body.map((p) => `<p>${escapeHtml(p)}</p>`).join('\n');
    return layout(article.headline, reader, `${graceNote}${head}<div data-article-body>${body}</div>`);
  }
  return layout(article.headline, reader, `${head}${paywall(decision, path, section)}`);
}

function paywall(decision: GateDecision, path: string, section?: Section): string {
  const next = encodeURIComponent(path);
  switch (decision.status) {
    case 'anonymous':
      return `<section class="paywall" data-paywall="log-in"><h2>Log in to keep reading</h2>
<p>The rest of this story is for subscribers. If you have a subscription, log in and it will be right here.</p>
<p><a class="button" href="/signin?next=${escapeHtml(next)}" data-log-in>Log in</a></p></section>`;
    case 'unavailable':
      return `<section class="paywall" data-paywall="unavailable"><h2>We could not check your subscription</h2>
<p>Something on our side is not answering right now. Please reload this page in a moment.</p></section>`;
    case 'card_expired':
    case 'payment_failed': {
      const lead =
        decision.status === 'card_expired'
          ? 'The card we have on file for your subscription has expired.'
          : 'We could not take your last payment with the card on file.';
      const action = decision.update_card_url
        ? `<p><a class="button" href="${safeHref(decision.update_card_url)}" data-update-card>Update your card</a></p>`
        : `<p>Please get in touch with us and we will sort it out.</p>`;
      return `<section class="paywall" data-paywall="update-card"><h2>Make sure your card on file is up to date</h2>
<p>${escapeHtml(lead)} Your subscription is still here: update the card and you can carry on reading straight away.</p>${action}</section>`;
    }
    default:
      if (section) {
        const name = escapeHtml(section.name);
        return `<section class="paywall" data-paywall="subscribe" data-section="${escapeHtml(section.feature)}"><h2>Subscribe to ${name}</h2>
<p>${name} is not part of your subscription${decision.status === 'none' ? '' : ' right now'}. Add it and you can read every piece in full.</p>
<p><a class="button" href="/subscribe" data-subscribe>Subscribe to ${name}</a></p></section>`;
      }
      return `<section class="paywall" data-paywall="subscribe"><h2>Subscribe to read the whole story</h2>
<p>You are signed in, but there is no active subscription on your account. Subscribers read every story in full.</p>
<p><a class="button" href="/subscribe" data-subscribe>Subscribe</a></p></section>`;
  }
}

export function subscribePage(reader: DemoReader | null): string {
  return layout(
    'Subscribe',
    reader,
    `<h2 data-subscribe-page>Subscribe</h2><p>In this demo, subscriptions are made by the story script (through Stripe's test double), not on this page.</p><p><a href="/">Back to the stories</a></p>`,
  );
}

export function accountPage(reader: DemoReader | null): string {
  return layout(
    'Your account',
    reader,
    `<h2 data-account>Thanks, you are all set</h2><p>If you just updated your card, your subscription carries on as before.</p><p><a href="/" data-back-to-stories>Back to the stories</a></p>`,
  );
}

export function notFoundPage(reader: DemoReader | null): string {
  return layout('Not found', reader, '<h2>We could not find that page</h2><p><a href="/">Back to the stories</a></p>');
}
