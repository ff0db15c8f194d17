/**
 * The wording of every reader notice, as templates with {{placeholders}}, and the one renderer that turns
 * a template into a plain-text and an HTML body. Values are escaped for HTML; the text body takes them
 * as they are. Editing the wording means editing this file only.
 */

export type TemplateValues = Readonly<Record<'publisher' | 'support' | 'brand' | 'last4' | 'expiry' | 'days' | 'link' | 'products', string>>;

export interface NoticeTemplate {
  subject: string;
  /** Paragraphs before the link. */
  body: readonly string[];
  /** The call to action shown with the link (button text in HTML). */
  action: string;
  /** Paragraphs after the link. */
  closing: readonly string[];
}

const SIGNATURE = 'Questions? Write to {{support}}.';

/**
 * Said after the first paragraph of a card problem's notice when the card's subscriptions sell named
 * products ("your News and Cooking access"); left out when no product is named (no feature configuration).
 */
export const PRODUCTS_AT_RISK = 'This card pays for your {{products}} access.';

export const NOTICE_TEMPLATES = {
  card_expiring: {
    subject: 'Your card ending in {{last4}} expires in {{days}}',
    body: [
      'The {{brand}} card ending in {{last4}} that pays for your {{publisher}} subscription expires at the end of {{expiry}}, in {{days}}.',
      'Update it now so your subscription carries on without a break.',
    ],
    action: 'Update your card',
    closing: [SIGNATURE],
  },
  card_expired: {
    subject: 'Your card ending in {{last4}} has expired',
    body: [
      'The {{brand}} card ending in {{last4}} that pays for your {{publisher}} subscription expired at the end of {{expiry}}.',
      'Add a new card to keep reading: it takes a minute, and your access comes back as soon as it is saved.',
    ],
    action: 'Add a new card',
    closing: [SIGNATURE],
  },
  payment_failed: {
    subject: 'Your {{publisher}} payment did not go through',
    body: [
      'We could not charge the {{brand}} card ending in {{last4}} for your {{publisher}} subscription.',
      'Please check the card or add another one, and we will try again straight away.',
    ],
    action: 'Update your card',
    closing: [SIGNATURE],
  },
  access_restored: {
    subject: 'Your {{publisher}} subscription is active again',
    body: [
      'Thank you: the {{brand}} card ending in {{last4}} is now on file, and your {{publisher}} subscription is active again.',
    ],
    action: 'Manage your card',
    closing: [SIGNATURE],
  },
} as const satisfies Record<string, NoticeTemplate>;

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function fill(template: string, values: TemplateValues, escape: (value: string) => string): string {
  return template.replace(/\{\{(\w+)\}\}/g, (whole, name: string) =>
    Object.hasOwn(values, name) ? escape(values[name as keyof TemplateValues]) : whole,
  );
}

/** Renders one template into subject, text and HTML; without a link the call to action is left out. */
export function renderTemplate(
  template: NoticeTemplate,
  values: TemplateValues,
  withLink: boolean,
): { subject: string; text: string; html: string } {
  const plain = (s: string) => fill(s, values, (v) => v);
  const html = (s: string) => fill(s, values, escapeHtml);

  const textParts = [...template.body.map(plain)];
  if (withLink) textParts.push(`${plain(template.action)}: ${values.link}`);
  textParts.push(...template.closing.map(plain), `-- ${values.publisher}`);

  const htmlParts = template.body.map((p) => `<p>${html(p)}</p>`);
  if (withLink) {
    htmlParts.push(
      `<p><a href="${escapeHtml(values.link)}" style="display:inline-block;padding:10px 18px;background:#1a1a1a;color:#ffffff;text-decoration:none;border-radius:4px">${html(template.action)}</a></p>`,
    );
  }
  htmlParts.push(...template.closing.map((p) => `<p>${html(p)}</p>`));

  const subject = plain(template.subject);
  return {
    subject,
    text: `${textParts.join('\n\n')}\n`,
    html: [
      '<!doctype html>',
      `<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>`,
      '<body style="font-family:Georgia,serif;font-size:16px;line-height:1.5;color:#1a1a1a;max-width:560px;margin:0 auto;padding:24px">',
      ...htmlParts,
      `<p style="color:#666">${html('{{publisher}}')}</p>`,
      '</body></html>',
    ].join('\n'),
  };
}
