/**
 * GET /v1/entitlements/events: the entitlement change feed as Server-Sent Events, for content services
 * that cache answers. Each change is `event: change`, `id: <stream entry id>`, `data: <change JSON>`.
 * A client reconnecting with `Last-Event-ID` gets every change after that id, then the live ones; when
 * that id can no longer be honoured (trimmed away, unknown, malformed, more than `maxReplay` entries
 * behind) it gets `event: reset` instead: drop the whole cache. `event: ready` says "you are live from
 * here". Comment lines keep proxies and the client's idle watchdog happy. The Redis side is one shared
 * reader per process (entitlement-change-reader); one stream's life, and what bounds its memory, is in
 * feed-stream.ts; how many may be open at once, in feed-connection-limits.ts.
 */
import { Router } from 'express';
import type { Logger } from '../logger.js';
import type { FeedEvent } from '../metrics/metrics.js';
import { requireScope, type TokenCheck } from './bearer-auth.js';
import { UnavailableError } from './errors.js';
import { noteTokenName } from './request-log.js';
import { createFeedConnectionLimits } from './feed-connection-limits.js';
import { serveFeedStream } from './feed-stream.js';
import type { EntitlementChangeReader } from '../store/entitlement-change-reader.js';

export interface EntitlementEventsOptions {
  heartbeatMs?: number;
  /** A live client this far behind (bytes buffered, unsent) has stopped reading: it is cut off. */
  maxBufferedBytes?: number;
  /** A resume more entries behind the tip than this gets `reset` at once instead of a replay. */
  maxReplay?: number;
  /** Entries per catch-up read (XRANGE COUNT): what a replaying stream holds at most. */
  pageSize?: number;
  /** Live entries held back while a stream replays; past this the replay has fallen behind: reset. */
  maxHeldEntries?: number;
  /** Open streams per token name, and in this process. */
  maxConnectionsPerToken?: number;
  maxConnections?: number;
}

export interface EntitlementEventsRouteDeps extends EntitlementEventsOptions {
  checkToken: TokenCheck;
  /** Absent in processes that do not serve live events: the route then answers 503. */
  reader?: EntitlementChangeReader;
  logger: Logger;
  onFeedEvent?: (event: FeedEvent) => void;
}

export const EVENTS_PATH = '/v1/entitlements/events';

export const FEED_DEFAULTS = Object.freeze({
  heartbeatMs: 15_000,
  maxBufferedBytes: 1_000_000,
  maxReplay: 10_000,
  pageSize: 200,
  maxHeldEntries: 1_000,
  maxConnectionsPerToken: 50,
  maxConnections: 1_000,
});

export function createEntitlementEventsRouter(deps: EntitlementEventsRouteDeps): Router {
  const router = Router();
  const log = deps.logger.child({ component: 'entitlement-events' });
  const settings = {
    heartbeatMs: deps.heartbeatMs ?? FEED_DEFAULTS.heartbeatMs,
    maxBufferedBytes: deps.maxBufferedBytes ?? FEED_DEFAULTS.maxBufferedBytes,
    maxReplay: deps.maxReplay ?? FEED_DEFAULTS.maxReplay,
    pageSize: deps.pageSize ?? FEED_DEFAULTS.pageSize,
    maxHeldEntries: deps.maxHeldEntries ?? FEED_DEFAULTS.maxHeldEntries,
  };
  const record = deps.onFeedEvent ?? (() => undefined);
  const limits = createFeedConnectionLimits({
    perToken: deps.maxConnectionsPerToken ?? FEED_DEFAULTS.maxConnectionsPerToken,
    perProcess: deps.maxConnections ?? FEED_DEFAULTS.maxConnections,
    onRefused(token, reason) {
      log.warn({ tokenName: token, reason }, 'event stream refused');
      record({ type: 'refused', reason });
    },
  });

  router.get(EVENTS_PATH, async (req, res) => {
    const presented = deps.checkToken(req.headers.authorization);
    if (presented) noteTokenName(res, presented.name);
    const principal = requireScope(presented, ['feed'], 'follow the change feed');
    const reader = deps.reader;
    if (!reader) throw new UnavailableError('Live entitlement events are not served by this process.');
    const token = principal.name;
    const release = limits.acquire(token);
    record({ type: 'opened', token });
    await serveFeedStream({
      req,
      res,
      reader,
      lastEventId: req.get('last-event-id')?.trim() || null,
      settings,
      token,
      log,
      record,
      onEnd() {
        release();
        record({ type: 'closed', token });
      },
    });
  });
  return router;
}
