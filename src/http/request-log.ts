/**
 * Request ids and one access-log line per request, for every route mounted after it. A sane incoming
 * `X-Request-Id` is kept (so a trace crosses services), otherwise one is made; it is echoed back and
 * carried by the log line. The line has method, path (no query string: tokens ride there), status and
 * duration, and the name of the API token a route authenticated (never the token): never headers or
 * bodies. The entitlement route is mounted before it and pays nothing.
 */
import { randomUUID } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import type { Logger } from '../logger.js';

const INCOMING_ID = /^[A-Za-z0-9._-]{8,128}$/;

/** Puts the authenticated token's name on this request's access-log line. */
export function noteTokenName(res: Response, name: string): void {
  res.locals.tokenName = name;
}

export function createRequestLog(logger: Logger): RequestHandler {
  const log = logger.child({ component: 'http' });
  return (req, res, next) => {
    const incoming = req.get('x-request-id');
    const requestId = incoming && INCOMING_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', requestId);
    res.locals.requestId = requestId;
    const started = process.hrtime.bigint();
    // 'close', not 'finish': a stream the client hangs up on (the change feed) never finishes, and its
    // line matters as much as any; `aborted` marks an answer that did not go out whole.
    res.once('close', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      // `tokenName`, not `token`: the logger redacts any field called token.
      const tokenName: unknown = res.locals.tokenName;
      log.info(
        { requestId, method: req.method, path: req.path, status: res.statusCode, ms: Math.round(ms * 10) / 10, ...(typeof tokenName === 'string' ? { tokenName } : {}), ...(res.writableFinished ? {} : { aborted: true }) },
        'request',
      );
    });
    next();
  };
}
