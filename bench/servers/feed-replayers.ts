/**
 * The feed clients of bench/feed-replay.ts, in a process of their own (so reading the streams costs the
 * load generator nothing): BENCH_FEED_CONNECTIONS loops, each opening GET /v1/entitlements/events with
 * the same old Last-Event-ID, reading at full speed until `ready` or the end of the stream, then, after
 * BENCH_FEED_PAUSE_MS, doing it again: a client that keeps replaying from near the oldest entry.
 * Started by a 'start' request; 'stats' reports what the streams brought.
 */
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { answerOrchestrator, ready, requireEnv } from '../lib/child.js';

const port = Number(requireEnv('BENCH_FEED_PORT'));
const headers = { authorization: `Bearer ${requireEnv('BENCH_TOKEN')}`, 'last-event-id': requireEnv('BENCH_FEED_LAST_ID'), accept: 'text/event-stream' };
const connections = Number(requireEnv('BENCH_FEED_CONNECTIONS'));
const pauseMs = Number(process.env.BENCH_FEED_PAUSE_MS ?? 250);

const stats = { streams: 0, byStatus: {} as Record<string, number>, readies: 0, resets: 0, cutBeforeReady: 0, socketErrors: 0, bytes: 0 };
let running = false;

/** One stream: resolves when it reached `ready` (and was hung up) or ended. */
function replayOnce(): Promise<void> {
  return new Promise((resolve) => {
    stats.streams++;
    let done = false;
    const finish = () => {
      if (!done) resolve();
      done = true;
    };
    const req = request({ host: '127.0.0.1', port, path: '/v1/entitlements/events', headers, agent: false }, (res) => {
      const status = String(res.statusCode);
      stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
      if (res.statusCode !== 200) {
        res.resume();
        res.on('end', finish);
        res.on('error', finish);
        return;
      }
      res.setEncoding('latin1');
      let tail = '';
      let live = false;
      let reset = false;
      res.on('data', (chunk: string) => {
        stats.bytes += chunk.length;
        const text = tail + chunk;
        if (!reset && text.includes('event: reset\n')) {
          reset = true;
          stats.resets++;
        }
        if (!live && text.includes('event: ready\n')) {
          live = true;
          stats.readies++;
          req.destroy();
          finish();
        }
        tail = text.slice(-16);
      });
      const ended = () => {
        if (!live) stats.cutBeforeReady++;
        finish();
      };
      res.on('end', ended);
      res.on('error', ended);
    });
    req.on('error', () => {
      if (!done) stats.socketErrors++;
      finish();
    });
    req.end();
  });
}

async function loop(): Promise<void> {
  while (running) {
    await replayOnce();
    if (running) await sleep(pauseMs);
  }
}

answerOrchestrator(
  {
    start: () => {
      running = true;
      for (let i = 0; i < connections; i++) void loop();
      return {};
    },
    stats: () => ({ ...stats }),
  },
  async () => {
    running = false;
  },
);
ready();
