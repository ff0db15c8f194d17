/**
 * send(request): one reader notice, exactly once. Claim the notice key in Redis, re-check that the notice
 * still makes sense (the card was not replaced meanwhile; the reader has an address), render it, send it,
 * record the outcome. A temporary failure gives the claim back and throws (the job retries with backoff);
 * a permanent SMTP rejection is recorded and thrown as PermanentNoticeError (the job fails, visibly,
 * without retrying). A reader without an e-mail address is skipped and counted.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { Clock, CustomerProjection } from '../domain/projection.js';
import { currentCard } from '../domain/expiry-plan.js';
import { noticeKey, productsAtRisk, renderNotice, type NoticeRequest } from '../domain/notice.js';
import type { SubscriberStore } from '../store/subscriber-store.js';
import type { NoticeLedger, NoticeRecord } from '../store/notice-ledger.js';
import { NOTICE_KIND_HEADER, classifyMailError, describeMailError, type Mailer } from '../adapters/mailer.js';
import type { UpdateCardLinks } from '../billing/update-card-links.js';

export type NoticeOutcome =
  | { outcome: 'sent'; key: string; messageId: string; /** The SMTP server's reply, addresses cut out. */ response: string }
  | { outcome: 'duplicate'; key: string; state: NoticeRecord['state'] }
  | { outcome: 'skipped'; key: string; reason: 'no_email' | 'card_replaced' | 'customer_gone' };

/** The mail system refused the notice for good: recorded in the ledger; the job must not retry. */
export class PermanentNoticeError extends Error {
  constructor(readonly key: string, readonly detail: string) {
    super(`notice rejected permanently: ${detail}`);
    this.name = 'PermanentNoticeError';
  }
}

/** Another worker holds the claim right now: retry later, when its outcome is recorded. */
export class NoticeBusyError extends Error {
  constructor(readonly key: string) {
    super('notice is being sent by another worker');
    this.name = 'NoticeBusyError';
  }
}

export interface NoticeSenderDeps {
  ledger: NoticeLedger;
  mailer: Mailer;
  store: Pick<SubscriberStore, 'read'>;
  links: UpdateCardLinks | null;
  clock: Clock;
  publisherName: string;
  supportEmail: string;
  logger: Logger;
  /** How long a claim holds while sending; past it, a retry may claim again. */
  leaseMs?: number;
}

export interface NoticeSender {
  send(request: NoticeRequest): Promise<NoticeOutcome>;
}

/** Notices about a card's expiry go only while that card, at that expiry, still bills the reader. */
const CARD_BOUND_KINDS: ReadonlySet<NoticeRequest['kind']> = new Set(['card_expiring', 'card_expired']);

export function createNoticeSender(deps: NoticeSenderDeps): NoticeSender {
  const log = deps.logger.child({ component: 'notices' });
  const leaseMs = deps.leaseMs ?? 120_000;
  const messageDomain = /@([^\s>]+)/.exec(deps.supportEmail)?.[1] ?? 'subgate.invalid';

  async function finish(key: string, owner: string, kind: string, record: Omit<NoticeRecord, 'owner'>, counter: string) {
    await deps.ledger.finish(key, owner, record);
    await deps.ledger.count(kind, counter);
  }

  return {
    async send(request) {
      const key = noticeKey(request);
      const owner = randomUUID();
      const claim = await deps.ledger.claim(key, owner, deps.clock.now(), leaseMs);
      if (!claim.claimed) {
        if (claim.record.state === 'sending') throw new NoticeBusyError(key);
        await deps.ledger.count(request.kind, 'duplicate');
        return { outcome: 'duplicate', key, state: claim.record.state };
      }

      let mail;
      try {
        const projection = await deps.store.read(request.customerId);
        const recipient = recipientOf(projection, request);
        if ('skip' in recipient) {
          const reason = recipient.skip;
          await finish(key, owner, request.kind, { state: 'skipped', at: deps.clock.now(), detail: reason }, `skipped_${reason}`);
          log.info({ customerId: request.customerId, kind: request.kind, reason }, 'notice skipped');
          return { outcome: 'skipped', key, reason };
        }
        const content = renderNotice(request, {
          publisherName: deps.publisherName,
          supportEmail: deps.supportEmail,
          updateCardUrl: deps.links?.urlFor(request.customerId) ?? null,
          now: deps.clock.now(),
          products: productsAtRisk(projection, request.card.id),
        });
        mail = {
          to: recipient.to,
          ...content,
          messageId: `<notice.${createHash('sha256').update(key).digest('hex').slice(0, 32)}@${messageDomain}>`,
          headers: { [NOTICE_KIND_HEADER]: request.kind },
        };
      } catch (err) {
        await deps.ledger.release(key, owner).catch(() => undefined);
        throw err;
      }

      try {
        const sent = await deps.mailer.send(mail);
        await finish(key, owner, request.kind, { state: 'sent', at: deps.clock.now(), detail: sent.messageId }, 'sent');
        log.info({ customerId: request.customerId, kind: request.kind }, 'notice sent');
        return { outcome: 'sent', key, messageId: sent.messageId, response: sent.response.replace(/<[^>]*>/g, '<…>').replace(/\S+@\S+/g, '…').slice(0, 200) };
      } catch (err) {
        const detail = describeMailError(err);
        if (classifyMailError(err) === 'permanent') {
          await finish(key, owner, request.kind, { state: 'rejected', at: deps.clock.now(), detail }, 'rejected');
          log.warn({ customerId: request.customerId, kind: request.kind, detail }, 'notice rejected permanently');
          throw new PermanentNoticeError(key, detail);
        }
        await deps.ledger.release(key, owner).catch(() => undefined);
        await deps.ledger.count(request.kind, 'temporary_failure').catch(() => undefined);
        log.warn({ customerId: request.customerId, kind: request.kind, detail }, 'notice failed; will retry');
        throw err;
      }
    },
  };
}

/** Where the notice goes, or why it no longer should. */
function recipientOf(
  projection: CustomerProjection | null,
  request: NoticeRequest,
): { to: string } | { skip: 'no_email' | 'card_replaced' | 'customer_gone' } {
  if (projection === null || projection.deleted) return { skip: 'customer_gone' };
  if (CARD_BOUND_KINDS.has(request.kind)) {
    const { card } = request;
    const still = currentCard(projection, { customerId: request.customerId, cardId: card.id, exp_month: card.exp_month, exp_year: card.exp_year });
    if (still === null) return { skip: 'card_replaced' };
  }
  return projection.email ? { to: projection.email } : { skip: 'no_email' };
}
