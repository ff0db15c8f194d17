/**
 * GET /v1/entitlements/events: the entitlement change feed as Server-Sent Events, for content services
 * that cache answers. Each change is `event: change`, `id: <stream entry id>`, `data: <change JSON>`.
 * A client reconnecting with `Last-Event-ID` gets every change after that id, then the live ones; when
 * that id can no longer be honoured (trimmed away, unknown, malformed) it gets `event: reset` instead:
 * drop the whole cache. `event: ready` says "you are live from here". Comment lines keep proxies and the
 * client's idle watchdog happy. The Redis side is one shared reader per process (entitlement-change-reader).
 */
import type { ServerResponse } from 'node:http';
import { Router } from 'express';
import type { Logger } from '../logger.js';
import { requireScope, type TokenCheck } from './bearer-auth.js';
import { UnavailableError } from './errors.js';
import { noteTokenName } from './request-log.js';
import {
  compareStreamIds,
  hasGap,
  isStreamId,
  type ChangeEntry,
  type EntitlementChangeReader,
} from '../store/entitlement-change-reader.js';

export interface EntitlementEventsRouteDeps {
  checkToken: TokenCheck;
  /** Absent in processes that do not serve live events: the route then answers 503. */
  reader?: EntitlementChangeReader;
  logger: Logger;
  heartbeatMs?: number;
  /** A client this far behind (bytes buffered, unsent) is cut off; it reconnects and resumes. */
  maxBufferedBytes?: number;
}

export const EVENTS_PATH = '/v1/entitlements/events';

const frame = (event: string, id: string | null, data: string) =>
  `${id === null ? '' : `id: ${id}\n`}event: ${event}\ndata: ${data}\n\n`;

export function createEntitlementEventsRouter(deps: EntitlementEventsRouteDeps): Router {
  const router = Router();
  const log = deps.logger.child({ component: 'entitlement-events' });
  const heartbeatMs = deps.heartbeatMs ?? 15_000;
  const maxBuffered = deps.maxBufferedBytes ?? 1_000_000;

  router.get(EVENTS_PATH, async (req, res) => {
    const principal = deps.checkToken(req.headers.authorization);
    if (principal) noteTokenName(res, principal.name);
    requireScope(principal, ['feed'], 'follow the change feed');
    const reader = deps.reader;
    if (!reader) throw new UnavailableError('Live entitlement events are not served by this process.');
    const lastEventId = req.get('last-event-id')?.trim() || null;

    // Listen first and hold live entries back, so nothing slips between the catch-up read and going live.
    let cursor: string | null = null;
    const held: ChangeEntry[] = [];
    let ended = false;
    let open = false; // headers sent: before that, heartbeats and gaps have nowhere to go
    const stop = reader.listen({
      onEntry(entry) {
        if (cursor === null) held.push(entry);
        else send(entry);
      },
      onGap(position) {
        cursor = position.lastId;
        write(frame('reset', cursor, JSON.stringify({ reason: 'changes_lost' })));
      },
      onClose() {
        end();
      },
    });
    const heartbeat = setInterval(() => write(': keep-alive\n\n'), heartbeatMs);
    heartbeat.unref();
    function end() {
      if (ended) return;
      ended = true;
      clearInterval(heartbeat);
      stop();
      res.end();
    }
    function write(text: string) {
      if (ended || !open) return;
      res.write(text);
      if (res.writableLength > maxBuffered) {
        log.warn({ buffered: res.writableLength }, 'events client too slow; disconnecting');
        ended = true;
        clearInterval(heartbeat);
        stop();
        res.destroy();
      }
    }
    function send(entry: ChangeEntry) {
      if (cursor !== null && compareStreamIds(entry.id, cursor) <= 0) return;
      cursor = entry.id;
      write(frame('change', entry.id, entry.data));
    }
    req.on('close', end);

    let position;
    try {
      position = await reader.position();
    } catch (err) {
      clearInterval(heartbeat);
      stop();
      ended = true;
      throw err; // 503 through the one error writer: headers are not sent yet
    }
    writeHead(res);
    open = true;
    let backlog: ChangeEntry[] = [];
    if (lastEventId === null) {
      cursor = position.lastId;
    } else if (!isStreamId(lastEventId) || hasGap(lastEventId, position)) {
      cursor = position.lastId;
      write(frame('reset', cursor, JSON.stringify({ reason: isStreamId(lastEventId) ? 'changes_lost' : 'unknown_id' })));
    } else {
      try {
        backlog = await reader.readRange(lastEventId, position.lastId);
      } catch {
        // Headers are out: the client reconnects with the same id and tries again.
        end();
        return;
      }
      cursor = lastEventId;
    }
    // Replay in order: the catch-up read, then whatever arrived live meanwhile (deduplicated by id).
    for (const entry of backlog) send(entry);
    for (const entry of held.splice(0)) send(entry);
    write(frame('ready', cursor, JSON.stringify({ resumed: lastEventId !== null })));
  });
  return router;
}

function writeHead(res: ServerResponse): void {
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
  });
  // The first bytes go out now, so the client knows it is connected before any change happens.
  res.write(': connected\n\n');
  res.flushHeaders();
}
