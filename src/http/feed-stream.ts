/**
 * One client's change-feed stream, from its first byte to its end (the route has checked the token and
 * taken a connection slot). Memory is bounded whatever the resume point:
 * - the backlog after `Last-Event-ID` is read one page at a time, and the next page only once the client
 *   has taken the last (backpressure: a client that reads is never cut off, however far behind it starts);
 * - a client that leaves stops the replay between pages;
 * - a resume more than `maxReplay` entries behind is not replayed: it gets `reset` at once;
 * - live entries arriving during a replay are held, up to `maxHeldEntries`; past that the replay has
 *   fallen too far behind the live tip and is abandoned for a `reset` to it;
 * - once live, a client that lets `maxBufferedBytes` pile up has stopped reading and is cut off.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../logger.js';
import type { FeedEvent } from '../metrics/metrics.js';
import { UnavailableError } from './errors.js';
import { compareStreamIds, hasGap, isStreamId, type ChangeEntry, type StreamPosition } from '../domain/entitlement-change.js';
import type { EntitlementChangeReader } from '../store/entitlement-change-reader.js';

export interface FeedStreamSettings {
  heartbeatMs: number;
  maxBufferedBytes: number;
  maxReplay: number;
  pageSize: number;
  maxHeldEntries: number;
}

type ResetReason = Extract<FeedEvent, { type: 'reset' }>['reason'];

const frame = (event: string, id: string | null, data: string) =>
  `${id === null ? '' : `id: ${id}\n`}event: ${event}\ndata: ${data}\n\n`;
const changeFrames = (entries: readonly ChangeEntry[]) => entries.map((entry) => frame('change', entry.id, entry.data)).join('');

/**
 * Serves the stream until either side ends it; `onEnd` runs once when it does. Rejects (before any
 * header is sent) only when the stream's position cannot be read or the process is shutting down: the
 * caller answers 503.
 */
export async function serveFeedStream(ctx: {
  req: IncomingMessage;
  res: ServerResponse;
  reader: EntitlementChangeReader;
  lastEventId: string | null;
  settings: FeedStreamSettings;
  /** For log lines: the token's name. */
  token: string;
  log: Logger;
  record: (event: FeedEvent) => void;
  onEnd: () => void;
}): Promise<void> {
  const { req, res, reader, lastEventId, settings, log, record } = ctx;
  // 'starting': no headers yet; 'catching_up': replaying, live entries held; 'live': fanned out as they come.
  let phase: 'starting' | 'catching_up' | 'live' | 'ended' = 'starting';
  let cursor = '0-0'; // the last id this client was given, or told to resume from
  let held: ChangeEntry[] = [];
  // A reset decided while catching up, acted on between pages: the latest id wins.
  let pendingReset: { id: string; reason: ResetReason } | null = null;
  const aborted = new AbortController();
  const hasEnded = () => phase === 'ended';
  const resetTo = (id: string, reason: ResetReason) => {
    if (!pendingReset || compareStreamIds(id, pendingReset.id) > 0) pendingReset = { id, reason };
  };
  // The reader closes when the process shuts down; a closed one says so from inside listen().
  let closing = false;
  let stop: () => void = () => undefined;
  const heartbeat = setInterval(() => {
    if (phase === 'live') writeLive(': keep-alive\n\n');
    else if (phase === 'catching_up') res.write(': keep-alive\n\n');
  }, settings.heartbeatMs);
  heartbeat.unref();

  // Listen first and hold live entries back, so nothing slips between the catch-up read and going live.
  stop = reader.listen({
    onEntry(entry) {
      if (phase === 'live') return sendLive(entry);
      if (phase === 'ended') return;
      if (held.length < settings.maxHeldEntries) {
        held.push(entry);
        return;
      }
      // The live tip is running away from this replay: drop what is held and reset to here instead.
      held = [];
      resetTo(entry.id, 'fell_behind');
    },
    onGap(position) {
      if (phase !== 'live') return resetTo(position.lastId, 'changes_lost');
      cursor = position.lastId;
      record({ type: 'reset', reason: 'changes_lost' });
      writeLive(frame('reset', cursor, JSON.stringify({ reason: 'changes_lost' })));
    },
    onClose() {
      closing = true;
      finish('end');
    },
  });
  const shuttingDown = () => new UnavailableError('This process is shutting down; reconnect to another one.');
  if (closing) throw shuttingDown();

  function finish(how: 'end' | 'destroy' | 'none') {
    if (phase === 'ended') return;
    const headersSent = phase !== 'starting';
    phase = 'ended';
    clearInterval(heartbeat);
    stop();
    aborted.abort();
    held = [];
    ctx.onEnd();
    if (how === 'destroy') res.destroy();
    else if (how === 'end' && headersSent) res.end();
  }
  /** Live fan-out cannot wait for a client: one that lets `maxBufferedBytes` pile up has stopped reading. */
  function writeLive(text: string) {
    if (phase === 'ended') return;
    res.write(text);
    if (res.writableLength > settings.maxBufferedBytes) {
      log.warn({ tokenName: ctx.token, buffered: res.writableLength }, 'events client stopped reading; disconnecting');
      record({ type: 'dropped', reason: 'slow_reader' });
      finish('destroy');
    }
  }
  /** Writes, then waits until the client has taken it (or left). */
  async function writePaced(text: string): Promise<void> {
    if (phase === 'ended' || res.write(text)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      res.on('drain', done);
      res.on('close', done);
    });
  }
  function sendLive(entry: ChangeEntry) {
    if (compareStreamIds(entry.id, cursor) <= 0) return;
    cursor = entry.id;
    writeLive(frame('change', entry.id, entry.data));
  }
  /** The backlog after `afterId` up to `at`, a page at a time; stops early when a reset is due or the client left. */
  async function replay(afterId: string, at: StreamPosition) {
    let replayed = 0;
    let nextSeq: number | null = null;
    for await (const page of reader.pages(afterId, at.lastId, { pageSize: settings.pageSize, signal: aborted.signal })) {
      if (phase === 'ended' || pendingReset) return;
      const first = page[0]!;
      const last = page[page.length - 1]!;
      // Entries trimmed away while this client was being replayed to: what it missed is gone.
      if (nextSeq !== null && first.seq !== null && first.seq !== nextSeq) return resetTo(at.lastId, 'changes_lost');
      // Entries that carry no seq could not be counted up front: count them as they come.
      replayed += page.length;
      if (replayed > settings.maxReplay) return resetTo(at.lastId, 'too_far_behind');
      cursor = last.id;
      nextSeq = last.seq === null ? null : last.seq + 1;
      await writePaced(changeFrames(page));
    }
  }
  /** Resets if one is due, writes what was held meanwhile (deduplicated by id), then `ready`. */
  async function goLive() {
    for (;;) {
      if (phase === 'ended') return;
      if (pendingReset) {
        const { id, reason } = pendingReset;
        pendingReset = null;
        if (compareStreamIds(id, cursor) > 0) cursor = id;
        record({ type: 'reset', reason });
        res.write(frame('reset', cursor, JSON.stringify({ reason })));
      }
      const batch = held.filter((entry) => compareStreamIds(entry.id, cursor) > 0);
      held = [];
      if (batch.length === 0) break;
      cursor = batch[batch.length - 1]!.id;
      await writePaced(changeFrames(batch));
    }
    phase = 'live';
    writeLive(frame('ready', cursor, JSON.stringify({ resumed: lastEventId !== null })));
  }
  req.on('close', () => finish('end'));
  res.on('close', () => finish('end'));

  let position: StreamPosition;
  try {
    position = await reader.position();
  } catch (err) {
    finish('none');
    throw err;
  }
  if (hasEnded()) {
    if (closing) throw shuttingDown();
    return;
  }
  writeHead(res);
  phase = 'catching_up';
  cursor = position.lastId;
  if (lastEventId !== null) {
    if (!isStreamId(lastEventId) || hasGap(lastEventId, position)) {
      resetTo(position.lastId, isStreamId(lastEventId) ? 'changes_lost' : 'unknown_id');
    } else {
      try {
        const behind = await reader.countAfter(lastEventId, position, aborted.signal);
        if (behind !== null && behind > settings.maxReplay) resetTo(position.lastId, 'too_far_behind');
        else {
          cursor = lastEventId;
          if (behind !== 0) await replay(lastEventId, position);
        }
      } catch {
        // Headers are out: the client reconnects with the same id and tries again.
        finish('end');
        return;
      }
    }
  }
  await goLive();
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
