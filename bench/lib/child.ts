/**
 * The child side of a bench server: read settings from the environment, listen on 127.0.0.1 and an
 * ephemeral port, tell the orchestrator over IPC, and answer its requests ('usage', 'stop', and any
 * extra handlers a server registers). A server exits on 'stop' or when the orchestrator goes away.
 */
import { once } from 'node:events';
import type { Server } from 'node:http';

export type Handler = (message: Record<string, unknown>) => Promise<Record<string, unknown>> | Record<string, unknown>;

export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function send(message: Record<string, unknown>): void {
  if (!process.send) throw new Error('bench servers run as children of bench/run.ts (no IPC channel)');
  process.send(message);
}

/** Peak and current resident set size of this process, and its V8 heap, in bytes. */
export function memory(): { maxRss: number; rss: number; heapTotal: number; heapUsed: number } {
  const { rss, heapTotal, heapUsed } = process.memoryUsage();
  return { maxRss: process.resourceUsage().maxRSS * 1024, rss, heapTotal, heapUsed };
}

/**
 * Starts answering the orchestrator. `handlers` add request types; `onStop` closes what the server
 * opened (Redis, queues) before the process exits.
 */
export function answerOrchestrator(handlers: Record<string, Handler> = {}, onStop: () => Promise<unknown> = async () => {}): void {
  const all: Record<string, Handler> = {
    usage: () => memory(),
    ...handlers,
  };
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    const force = setTimeout(() => process.exit(code), 5000);
    force.unref();
    await onStop().catch(() => undefined);
    process.exit(code);
  };
  process.on('message', (raw) => {
    const message = raw as Record<string, unknown>;
    const id = message.id;
    if (message.type === 'stop') {
      send({ id, ok: true });
      void stop(0);
      return;
    }
    const handler = all[String(message.type)];
    if (!handler) {
      send({ id, ok: false, error: `unknown request ${String(message.type)}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(message))
      .then(
        (reply) => send({ id, ok: true, ...reply }),
        (err: unknown) => send({ id, ok: false, error: err instanceof Error ? err.message : String(err) }),
      );
  });
  process.on('disconnect', () => void stop(0));
}

/** Listens on 127.0.0.1:0, reports the port, and answers the orchestrator. */
export async function serve(server: Server, handlers: Record<string, Handler> = {}, onStop: () => Promise<unknown> = async () => {}): Promise<void> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  answerOrchestrator(handlers, async () => {
    server.closeAllConnections();
    server.close();
    await onStop();
  });
  send({ type: 'ready', port });
}

/** For servers without a port (the workers): report ready once set up. */
export function ready(extra: Record<string, unknown> = {}): void {
  send({ type: 'ready', ...extra });
}
