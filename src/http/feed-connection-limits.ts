/**
 * How many change-feed streams may be open at once: per token (by the token's name) and in the whole
 * process. An event stream holds a socket, a listener and a heartbeat timer for as long as the client
 * likes, so without a bound one token could hold every socket the process has. Past the token's own
 * bound the answer is 429 (that caller holds too many; the others are unaffected); past the process's it
 * is 503 (this instance is full; another one, or this one later, can serve it). Both carry Retry-After.
 */
import type { FeedEvent } from '../metrics/metrics.js';
import { AppError, TooManyRequestsError } from './errors.js';

export interface FeedConnectionLimits {
  /** Takes a slot for `token` or throws the refusal; the returned release may be called more than once. */
  acquire(token: string): () => void;
  readonly open: number;
  openFor(token: string): number;
}

export type FeedRefusal = Extract<FeedEvent, { type: 'refused' }>['reason'];

export function createFeedConnectionLimits(options: {
  perToken: number;
  perProcess: number;
  onRefused?: (token: string, reason: FeedRefusal) => void;
}): FeedConnectionLimits {
  const byToken = new Map<string, number>();
  let open = 0;
  return {
    acquire(token) {
      const mine = byToken.get(token) ?? 0;
      if (mine >= options.perToken) {
        options.onRefused?.(token, 'token_limit');
        throw new TooManyRequestsError(
          'too_many_connections',
          `This token already has ${options.perToken} open event streams, its limit; close one or retry later.`,
        );
      }
      if (open >= options.perProcess) {
        options.onRefused?.(token, 'process_limit');
        throw new AppError(503, 'at_capacity', `This process serves ${options.perProcess} event streams, its limit; retry later.`);
      }
      byToken.set(token, mine + 1);
      open++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        open--;
        const left = (byToken.get(token) ?? 1) - 1;
        if (left === 0) byToken.delete(token);
        else byToken.set(token, left);
      };
    },
    get open() {
      return open;
    },
    openFor: (token) => byToken.get(token) ?? 0,
  };
}
