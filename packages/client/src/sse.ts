/**
 * Server-Sent Events over fetch, with no dependency: a parser for the text/event-stream format (the
 * WHATWG rules: `\n`, `\r\n` or `\r` line ends, `data` lines joined by `\n`, comments ignored, an `id`
 * remembered across events) and a subscription that reconnects with capped, jittered exponential
 * backoff, resumes with `Last-Event-ID`, and treats a silent connection (no bytes, not even the server's
 * keep-alive comments, for `idleTimeoutMs`) as dead. A resume that keeps ending before the live event is
 * given up after `resumeAttempts` tries: the next connection starts without an id, so no id is retried
 * forever.
 */

import { unrefTimer } from './timers.js';

export interface SseMessage {
  event: string;
  data: string;
  /** The last event id in force after this message (ids carry over to later messages). */
  lastEventId: string;
}

/** Feeds decoded text in any chunking; calls `onMessage` per complete event. */
export function createSseParser(onMessage: (message: SseMessage) => void): { push(text: string): void } {
  let buffer = '';
  let event = '';
  let data: string[] = [];
  let lastEventId = '';
  let sawCr = false;

  const line = (text: string) => {
    if (text === '') {
      if (data.length > 0) onMessage({ event: event || 'message', data: data.join('\n'), lastEventId });
      event = '';
      data = [];
      return;
    }
    if (text.startsWith(':')) return;
    const colon = text.indexOf(':');
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') event = value;
    else if (field === 'id' && !value.includes('\0')) lastEventId = value;
  };

  return {
    push(text) {
      buffer += text;
      let start = 0;
      for (let i = 0; i < buffer.length; i++) {
        const ch = buffer.charCodeAt(i);
        if (ch === 10 /* \n */) {
          if (sawCr && i === start) {
            // the \n of a \r\n whose \r ended the previous line
            start = i + 1;
            sawCr = false;
            continue;
          }
          line(buffer.slice(start, i));
          start = i + 1;
          sawCr = false;
        } else if (ch === 13 /* \r */) {
          line(buffer.slice(start, i));
          start = i + 1;
          sawCr = true;
        } else {
          sawCr = false;
        }
      }
      buffer = buffer.slice(start);
    },
  };
}

export type SubscriptionState = 'connecting' | 'live' | 'down' | 'closed';

export interface SseSubscriptionOptions {
  url: string;
  headers: Record<string, string>;
  fetch: typeof fetch;
  onMessage(message: SseMessage): void;
  onState?(state: SubscriptionState, detail?: string): void;
  /** A message of this event type marks the connection live (resets the backoff). */
  liveEvent: string;
  lastEventId?: string;
  initialBackoffMs: number;
  maxBackoffMs: number;
  idleTimeoutMs: number;
  connectTimeoutMs: number;
  /** Streams in a row that resumed with an id, opened, and ended before `liveEvent`, before that id is dropped. */
  resumeAttempts: number;
  /** The id was dropped: what the consumer cached on the strength of it must go. */
  onResumeAbandoned?(): void;
}

export interface SseSubscription {
  readonly lastEventId: string | null;
  readonly state: SubscriptionState;
  close(): Promise<void>;
}

export function subscribeSse(options: SseSubscriptionOptions): SseSubscription {
  let lastEventId: string | null = options.lastEventId ?? null;
  let state: SubscriptionState = 'connecting';
  let closed = false;
  let current: AbortController | null = null;
  let wake: (() => void) | null = null;

  const setState = (next: SubscriptionState, detail?: string) => {
    if (state === next) return;
    state = next;
    options.onState?.(next, detail);
  };

  /** One connection: whether it opened (a 200 stream) and whether it went live. */
  async function connectOnce(): Promise<{ opened: boolean; live: boolean }> {
    const controller = new AbortController();
    current = controller;
    let idle: ReturnType<typeof setTimeout> | undefined;
    const armIdle = (ms: number) => {
      clearTimeout(idle);
      idle = setTimeout(() => controller.abort(new Error('idle')), ms);
      unrefTimer(idle);
    };
    let wentLive = false;
    let opened = false;
    try {
      armIdle(options.connectTimeoutMs);
      const headers: Record<string, string> = { ...options.headers, Accept: 'text/event-stream' };
      if (lastEventId !== null) headers['Last-Event-ID'] = lastEventId;
      // Called unbound: Web runtimes refuse a fetch whose `this` is another object (here, the options).
      const res = await (0, options.fetch)(options.url, { headers, signal: controller.signal });
      if (!res.ok || !res.body) {
        await res.body?.cancel().catch(() => undefined);
        throw new Error(`HTTP ${res.status}`);
      }
      opened = true;
      armIdle(options.idleTimeoutMs);
      const parser = createSseParser((message) => {
        lastEventId = message.lastEventId || lastEventId;
        if (message.event === options.liveEvent) {
          wentLive = true;
          setState('live');
        }
        options.onMessage(message);
      });
      const decoder = new TextDecoder();
      const reader = res.body.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        armIdle(options.idleTimeoutMs);
        parser.push(decoder.decode(value, { stream: true }));
      }
      if (!closed) setState('down', 'stream ended');
    } catch (err) {
      if (!closed) setState('down', (err as Error).message);
    } finally {
      clearTimeout(idle);
      controller.abort();
      current = null;
    }
    return { opened, live: wentLive };
  }

  const loop = (async () => {
    let attempt = 0;
    let stalledResumes = 0;
    while (!closed) {
      setState('connecting');
      const resumed = lastEventId !== null;
      const outcome = await connectOnce();
      if (closed) break;
      attempt = outcome.live ? 0 : attempt + 1;
      // A refusal or an outage says nothing about the id; a stream that opened and ended short of live does.
      if (outcome.live) stalledResumes = 0;
      else if (resumed && outcome.opened) stalledResumes++;
      if (stalledResumes >= options.resumeAttempts) {
        stalledResumes = 0;
        lastEventId = null;
        options.onResumeAbandoned?.();
      }
      // Equal jitter: half the exponential step, plus a random half, so restarts do not stampede.
      const step = Math.min(options.maxBackoffMs, options.initialBackoffMs * 2 ** Math.min(attempt, 20));
      const delay = step / 2 + Math.random() * (step / 2);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        unrefTimer(timer);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = null;
    }
    setState('closed');
  })();

  return {
    get lastEventId() {
      return lastEventId;
    },
    get state() {
      return state;
    },
    async close() {
      closed = true;
      current?.abort();
      wake?.();
      await loop;
    },
  };
}
