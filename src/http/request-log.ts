/**
 * Request ids and one access-log line per request, for every route mounted after it. A sane incoming
 * `X-Request-Id` is kept (so a trace crosses services), otherwise one is made; it is echoed back and
 * carried by the log line. The line has method, path (no query string: tokens ride there), status and
 * duration: never headers or bodies. The entitlement route is mounted before it and pays nothing.
 */
import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from '../logger.js';

const INCOMING_ID = /^[A-Za-z0-9._-]{8,128}$/;

export function createRequestLog(logger: Logger): RequestHandler {
  const log = logger.child({ component: 'http' });
  return (req, res, next) => {
    const incoming = req.get('x-request-id');
    const requestId = incoming && INCOMING_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', requestId);
    res.locals.requestId = requestId;
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      log.info({ requestId, method: req.method, path: req.path, status: res.statusCode, ms: Math.round(ms * 10) / 10 }, 'request');
    });
    next();
  };
}
