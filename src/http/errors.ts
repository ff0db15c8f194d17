/**
 * The error vocabulary of the HTTP side and its one mapping to responses: `{ error: { code, message } }`.
 * Handlers throw these; Express 5 forwards rejected promises here, so no try/catch-next boilerplate.
 */
import type { ServerResponse } from 'node:http';
import type { ErrorRequestHandler } from 'express';
import type { Logger } from '../logger.js';

export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends AppError {
  constructor(code: string, message: string) {
    super(400, code, message);
  }
}

export class AuthError extends AppError {
  constructor(message = 'A valid bearer token is required.') {
    super(401, 'unauthorized', message);
  }
}

/** A known token asking for what its scopes do not allow (RFC 6750 calls it insufficient_scope). */
export class ForbiddenError extends AppError {
  constructor(message: string, code = 'insufficient_scope') {
    super(403, code, message);
  }
}

export class NotFoundError extends AppError {
  constructor(message = 'Not found.') {
    super(404, 'not_found', message);
  }
}

/** A path (parameter) that is not valid percent-encoding; the message never echoes it. */
export class InvalidPathError extends ValidationError {
  constructor() {
    super('invalid_path', 'The request path is not valid percent-encoding.');
  }
}

/** body-parser reports the route's own limit in bytes: say that one, not a fixed figure. */
function formatLimit(bytes: unknown): string {
  if (typeof bytes !== 'number' || !Number.isFinite(bytes)) return 'the limit';
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KB`;
  return `${bytes} bytes`;
}

export class PayloadTooLargeError extends AppError {
  constructor(limit: string) {
    super(413, 'payload_too_large', `The request body is larger than ${limit}.`);
  }
}

export class UnsupportedEncodingError extends AppError {
  constructor(message = 'This Content-Encoding is not accepted; send the body uncompressed.') {
    super(415, 'unsupported_encoding', message);
  }
}

/** The caller holds or asks more than it may at once (e.g. open event streams); retry later. */
export class TooManyRequestsError extends AppError {
  constructor(code: string, message: string) {
    super(429, code, message);
  }
}

/** Our storage (Redis) can't be reached: the caller should retry; Stripe does so on any non-2xx. */
export class UnavailableError extends AppError {
  constructor(message = 'Storage is unavailable; retry later.', options?: { cause?: unknown }) {
    super(503, 'unavailable', message);
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/**
 * What the libraries under Express throw for a bad request: body-parser and raw-body (http-errors with a
 * `status` and mostly a `type`; a zlib failure inside the body carries only the status), and the router
 * (a URIError with status 400 when a path parameter is not valid percent-encoding). Each one a client can
 * cause becomes a 4xx with a code of ours: matched by `type` first, then by the status it carries.
 */
function fromLibraryError(err: unknown): AppError | null {
  if (typeof err !== 'object' || err === null) return null;
  const { type, status, limit, code } = err as { type?: unknown; status?: unknown; limit?: unknown; code?: unknown };
  switch (type) {
    case 'entity.too.large':
      return new PayloadTooLargeError(formatLimit(limit));
    case 'request.aborted':
      return new ValidationError('request_aborted', 'The request was aborted.');
    case 'encoding.unsupported':
      return new UnsupportedEncodingError();
    case 'charset.unsupported':
      return new AppError(415, 'unsupported_charset', 'The charset of the request body is not supported.');
  }
  if (err instanceof URIError && status === 400) return new InvalidPathError();
  if (typeof status !== 'number' || status < 400 || status > 499) return null;
  const zlibFailure = typeof code === 'string' && code.startsWith('Z_');
  if (typeof type === 'string' || zlibFailure) return new AppError(status, 'malformed_body', 'The request body could not be read.');
  return new AppError(status, 'bad_request', 'The request was refused.');
}

/** ioredis/BullMQ connection failures: the producer fails fast, and we answer 503 rather than 500. */
export function isStorageUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const text = `${err.name} ${err.message}`;
  return /enableOfflineQueue|Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|Command timed out|MaxRetriesPerRequest|Stream isn't writeable|NOAUTH|LOADING|READONLY|OOM command not allowed|ReplicaAckTimeout/i.test(
    text,
  );
}

/** Where an error happened, for the log line: never the body or the headers. */
interface ErrorContext {
  method: string | undefined;
  path: string;
  requestId?: unknown;
}

/** Maps any thrown value to an AppError, logging what a human should look at. */
export function resolveError(err: unknown, logger: Logger, ctx: ErrorContext): AppError {
  let appError = err instanceof AppError ? err : fromLibraryError(err);
  if (!appError && isStorageUnavailable(err)) appError = new UnavailableError(undefined, { cause: err });
  if (!appError) {
    // Log the error's own name and message only: never the request body or its headers.
    logger.error({ err: { name: (err as Error)?.name, message: (err as Error)?.message, stack: (err as Error)?.stack }, ...ctx }, 'unhandled error');
    return new AppError(500, 'internal', 'Internal error.');
  }
  if (appError.status >= 500) {
    const cause = appError.cause instanceof Error ? appError.cause.message : (err as Error)?.message;
    logger.warn({ code: appError.code, ...ctx, cause }, 'request failed');
  }
  return appError;
}

/** The one error response: `{ error: { code, message } }`, on Express's response or a bare node:http one. */
export function writeError(res: ServerResponse, appError: AppError): void {
  if (res.headersSent) return;
  const body = JSON.stringify({ error: { code: appError.code, message: appError.message } });
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  };
  if (appError.status === 401) headers['WWW-Authenticate'] = 'Bearer';
  if (appError.status === 503 || appError.status === 429) headers['Retry-After'] = '5';
  res.writeHead(appError.status, headers);
  res.end(body);
}

export function createErrorMiddleware(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    writeError(res, resolveError(err, logger, { method: req.method, path: req.path, requestId: res.locals.requestId }));
  };
}
