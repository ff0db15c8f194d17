/**
 * Sends e-mail with nodemailer over SMTP_URL. Without SMTP_URL (development) a log transport builds the
 * message and logs, at debug level, only what an operator needs to see a notice went: its message id,
 * kind, subject and a masked recipient. Never the address, the body or its update-card link: those are
 * live credentials for the reader's card flow, and debug logs get shared.
 * classifyMailError() tells a temporary failure (4xx reply, network trouble: retry) from a permanent one
 * (5xx reply, a malformed message: record it and stop).
 */
import { createTransport } from 'nodemailer';
import type { Logger } from '../logger.js';
import { maskEmail } from '../domain/mask-email.js';

/** The header each notice carries with its kind (card_expiring, …). */
export const NOTICE_KIND_HEADER = 'X-Subgate-Notice';

export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** `<…@…>`; derived from the notice key, so a resend of the same notice carries the same id. */
  messageId: string;
  headers?: Record<string, string>;
}

export interface SentMail {
  messageId: string;
  /** The server's final reply (e.g. "250 OK: queued as …"), or "logged". */
  response: string;
}

export interface Mailer {
  readonly transport: 'smtp' | 'log';
  send(mail: OutgoingMail): Promise<SentMail>;
  close(): void;
}

export interface MailerSettings {
  smtpUrl: string | undefined;
  from: string;
  logger: Logger;
  /** ms; connection, greeting and socket timeouts. */
  timeoutMs?: number;
}

export function createMailer(settings: MailerSettings): Mailer {
  const log = settings.logger.child({ component: 'mailer' });
  const timeout = settings.timeoutMs ?? 20_000;

  if (!settings.smtpUrl) {
    const transporter = createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
    return {
      transport: 'log',
      async send(mail) {
        const info = await transporter.sendMail({ from: settings.from, ...mail });
        log.debug(
          { messageId: info.messageId, notice: mail.headers?.[NOTICE_KIND_HEADER] ?? null, subject: mail.subject, to: maskEmail(mail.to) },
          'notice (log transport: SMTP_URL not set)',
        );
        return { messageId: info.messageId, response: 'logged' };
      },
      close() {
        transporter.close();
      },
    };
  }

  const transporter = createTransport({
    url: settings.smtpUrl,
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
  });
  return {
    transport: 'smtp',
    async send(mail) {
      const info = await transporter.sendMail({ from: settings.from, ...mail });
      return { messageId: info.messageId, response: String(info.response ?? '') };
    },
    close() {
      transporter.close();
    },
  };
}

const NETWORK_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETLS', 'EPROTOCOL']);

/**
 * 'temporary' for a 4xx SMTP reply or a network/connection failure (retry with backoff); 'permanent' for
 * a 5xx reply or anything the message itself caused (no retry will change it).
 */
export function classifyMailError(err: unknown): 'temporary' | 'permanent' {
  const e = err as { responseCode?: unknown; code?: unknown } | null;
  const status = typeof e?.responseCode === 'number' ? e.responseCode : null;
  if (status !== null) return status >= 400 && status < 500 ? 'temporary' : 'permanent';
  const code = typeof e?.code === 'string' ? e.code : '';
  if (NETWORK_CODES.has(code)) return 'temporary';
  // No SMTP status and no known code: a socket error from Node (e.g. ECONNREFUSED arrives as errno) or
  // an unknown failure. Retrying is safe: the claim keeps it to one e-mail.
  return code === 'EENVELOPE' || code === 'EMESSAGE' || code === 'EAUTH' || code === 'ENOAUTH' ? 'permanent' : 'temporary';
}

/** The SMTP reply or error code of a mail error, for the record: never the message or the address. */
export function describeMailError(err: unknown): string {
  const e = err as { responseCode?: unknown; code?: unknown; response?: unknown } | null;
  const status = typeof e?.responseCode === 'number' ? String(e.responseCode) : '';
  const code = typeof e?.code === 'string' ? e.code : 'error';
  const reply = typeof e?.response === 'string' ? e.response.replace(/<[^>]*>/g, '<…>').replace(/\S+@\S+/g, '…').slice(0, 200) : '';
  return [code, status, reply].filter(Boolean).join(' ');
}
