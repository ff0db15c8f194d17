/**
 * The limits of the API's node:http server, set in one place for the composition root and the tests.
 *
 * - maxConnections: a connection beyond it is closed as it is accepted (Node emits 'drop'), so a flood of
 *   idle sockets cannot exhaust file descriptors or memory; connections already open keep working.
 * - headersTimeout: the header block must be complete within it (a slowloris client trickling header bytes
 *   gets a 408 and the socket closed).
 * - requestTimeout: the whole request, body included, must arrive within it (408 otherwise). Node stops
 *   timing a request once it is fully received, so a response that streams on afterwards (the change feed's
 *   GET) is never cut by it.
 * - keepAliveTimeout: how long an idle keep-alive connection stays open. It must be longer than the idle
 *   timeout of any load balancer in front (AWS ALB and nginx: 60 s), so that the balancer, not us, closes an
 *   idle connection; otherwise it may reuse one we are closing and answer its client a 502.
 * - maxHeaderSize (16 KB) and maxHeadersCount (2000) keep Node's defaults.
 *
 * Node checks the two request timeouts on a timer (`connectionsCheckingInterval`, 30 s by default, read
 * when the server starts listening), so a 10 s headersTimeout could otherwise let a client hold its socket
 * for up to 40 s: the interval is set to a tenth of the shorter timeout (at most 1 s).
 */
import type { Server } from 'node:http';
import type { Logger } from '../logger.js';

export interface ServerLimits {
  maxConnections: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

/** Dropped connections are logged on the first and then once per this many, so a flood cannot flood the log. */
const DROP_LOG_EVERY = 1000;

export function applyServerLimits<S extends Server>(server: S, limits: ServerLimits, logger?: Logger): S {
  if (server.listening) throw new Error('applyServerLimits must run before listen(): Node reads the checking interval then');
  server.maxConnections = limits.maxConnections;
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  const shorter = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  (server as { connectionsCheckingInterval?: number }).connectionsCheckingInterval = Math.max(10, Math.min(1000, Math.floor(shorter / 10)));
  if (logger) {
    let dropped = 0;
    server.on('drop', () => {
      dropped += 1;
      if (dropped % DROP_LOG_EVERY === 1) logger.warn({ dropped, maxConnections: limits.maxConnections }, 'connection limit reached; new connections are dropped');
    });
  }
  return server;
}
