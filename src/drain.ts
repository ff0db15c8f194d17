/**
 * How a process leaves on SIGTERM, shared by every entry point. Stripe's deliveries and load balancers
 * reuse keep-alive connections, so closing the listener is not enough: a connection that keeps being
 * reused never goes idle and the old process would go on answering until it is killed, with its
 * workers and Redis connections still open. So, once draining, every response still written says
 * `Connection: close`, idle sockets are closed at once, in-flight requests finish, and only then do the
 * workers, queues and Redis connections close. Each step has a limit so one stuck request or job cannot
 * hold the rest; what a limit cuts never got its answer (a webhook is answered only once it is
 * durable), and a cut job is taken over by another worker once its lock lapses.
 */
import type { Server, ServerResponse } from 'node:http';
import type { Logger } from './logger.js';

export type ShutdownStep = {
  name: string;
  run: () => Promise<unknown> | unknown;
  /** Give up waiting after this long and go on with the next step (the step is reported as cut). */
  limitMs?: number;
};

export interface ShutdownReport {
  /** Steps that were still running at their limit. */
  cut: string[];
  failed: string[];
}

/**
 * How the whole drain budget is spent: the HTTP requests in flight and the active jobs each get a share,
 * the rest is left for closing queues and connections. The process exits 1 if even that runs out.
 */
export function drainLimits(totalMs: number): { httpMs: number; workersMs: number; totalMs: number } {
  return { httpMs: Math.round(totalMs * 0.4), workersMs: Math.round(totalMs * 0.4), totalMs };
}

export interface HttpDrainResult {
  /** Requests that had not been answered when draining began. */
  inFlight: number;
  /** Responses finished after draining began (each carried `Connection: close` if not already started). */
  answered: number;
  /** Requests still unanswered at the limit: their connections were closed without an answer. */
  cut: number;
}

/**
 * Watches `server` from now on (call it before the first request) and returns the function that drains
 * it: stop accepting, close idle sockets, let in-flight requests finish with `Connection: close`, and
 * after `limitMs` close whatever is left. Calling it again returns the same drain.
 */
export function createHttpDrain(server: Server): (limitMs: number) => Promise<HttpDrainResult> {
  const open = new Set<ServerResponse>();
  let draining = false;
  let answered = 0;
  let result: Promise<HttpDrainResult> | null = null;

  const lastOnItsConnection = (res: ServerResponse) => {
    // Node ends the connection after a response that says close, and the client will not reuse it.
    if (!res.headersSent) res.setHeader('Connection', 'close');
  };

  server.prependListener('request', (_req, res: ServerResponse) => {
    if (draining) lastOnItsConnection(res);
    open.add(res);
    res.once('finish', () => {
      if (!draining) return;
      answered += 1;
      // A response whose headers went out before the drain said keep-alive: close its socket now it is idle.
      setImmediate(() => server.closeIdleConnections());
    });
    res.once('close', () => open.delete(res));
  });

  return (limitMs) => {
    result ??= new Promise<HttpDrainResult>((resolve) => {
      draining = true;
      const inFlight = open.size;
      for (const res of open) lastOnItsConnection(res);
      let cut = 0;
      const limit = setTimeout(() => {
        cut = open.size;
        server.closeAllConnections();
      }, limitMs);
      limit.unref();
      server.close(() => {
        clearTimeout(limit);
        resolve({ inFlight, answered, cut });
      });
      server.closeIdleConnections();
    });
    return result;
  };
}

/**
 * An HTTP drain as a shutdown step. `endStreams` (the SSE feed) runs once draining has begun, so no
 * request is answered with keep-alive meanwhile; the server can only close once those streams end.
 */
export function httpDrainStep(
  drain: (limitMs: number) => Promise<HttpDrainResult>,
  opts: { limitMs: number; logger: Logger; endStreams?: () => Promise<unknown> },
): ShutdownStep {
  return {
    name: 'http',
    run: async () => {
      const drained = drain(opts.limitMs);
      opts.logger.info({ limitMs: opts.limitMs }, 'http draining');
      await opts.endStreams?.().catch((err: unknown) => opts.logger.warn({ reason: (err as Error).message }, 'ending streams failed'));
      const result = await drained;
      if (result.cut > 0) opts.logger.warn(result, 'http drain limit reached; unanswered requests were cut');
      else opts.logger.info(result, 'http drained');
    },
  };
}

function withinLimit(work: Promise<unknown>, limitMs: number | undefined): Promise<'done' | 'cut'> {
  if (limitMs === undefined) return work.then(() => 'done');
  let timer: NodeJS.Timeout | undefined;
  const cut = new Promise<'cut'>((resolve) => {
    timer = setTimeout(() => resolve('cut'), limitMs);
  });
  return Promise.race([work.then(() => 'done' as const), cut]).finally(() => clearTimeout(timer));
}

/** Runs every step once, in order, even when one throws or is cut at its limit; then logs 'shutdown complete'. */
export function createShutdown(steps: ShutdownStep[], logger: Logger): () => Promise<ShutdownReport> {
  let running: Promise<ShutdownReport> | null = null;
  return () => {
    running ??= (async () => {
      const report: ShutdownReport = { cut: [], failed: [] };
      for (const step of steps) {
        try {
          if ((await withinLimit(Promise.resolve(step.run()), step.limitMs)) === 'cut') {
            report.cut.push(step.name);
            logger.warn({ step: step.name, limitMs: step.limitMs }, 'shutdown step still running at its limit; going on');
          }
        } catch (err) {
          report.failed.push(step.name);
          logger.error({ step: step.name, reason: (err as Error).message }, 'shutdown step failed');
        }
      }
      logger.info(report, 'shutdown complete');
      return report;
    })();
    return running;
  };
}

/**
 * On SIGTERM or SIGINT, drain and exit 0 once every step has run. If the steps overrun the whole budget
 * (a step without a limit hangs), exit 1 rather than be killed mid-way with nothing said.
 */
export function exitOnSignals(shutdown: () => Promise<ShutdownReport>, logger: Logger, totalMs: number): void {
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'draining');
    const force = setTimeout(() => {
      logger.error({ limitMs: totalMs }, 'drain took too long; exiting');
      process.exit(1);
    }, totalMs);
    force.unref();
    void shutdown().then(() => process.exit(0));
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}
