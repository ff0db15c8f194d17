/**
 * A webhook sender that behaves like Stripe's: many deliveries in parallel over keep-alive connections
 * (or a connection each), each signed when it is sent, and every non-2xx or failed attempt retried
 * later with backoff until it is acknowledged. It records every attempt (when its socket was assigned,
 * the status or error, the `Connection` header), so a fault test can say which events got a 2xx and
 * when. Also the one raw sender the fuzz test uses for deliveries that are not well-formed.
 */
import { Agent, request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

export interface RawDelivery {
  method?: string;
  path?: string;
  headers: Record<string, string | string[]>;
  body: Buffer | string;
}

export interface Attempt {
  /** performance.now() when the request got its socket (so, at the latest, when it was written). */
  sentAt: number;
  endedAt: number;
  status?: number;
  /** Network failure: ECONNREFUSED, ECONNRESET, socket hang up, timeout. */
  error?: string;
  connection?: string;
  body?: string;
}

/** Sends one request; never throws (a failure is an Attempt with `error`). */
export function sendRaw(baseUrl: string, delivery: RawDelivery, agent: Agent | false, timeoutMs = 15_000): Promise<Attempt> {
  const url = new URL(baseUrl);
  const path = delivery.path ?? '/webhooks/stripe'; // as given: a fuzzed path is not normalised
  return new Promise((resolve) => {
    let sentAt = performance.now();
    let settled = false;
    const finish = (attempt: Omit<Attempt, 'sentAt' | 'endedAt'>) => {
      if (settled) return;
      settled = true;
      resolve({ sentAt, endedAt: performance.now(), ...attempt });
    };
    const req = request(
      { host: url.hostname, port: url.port, path, method: delivery.method ?? 'POST', headers: delivery.headers, agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          finish({
            status: res.statusCode ?? 0,
            ...(res.headers.connection ? { connection: res.headers.connection } : {}),
            body: Buffer.concat(chunks).toString('utf8').slice(0, 2000),
          }),
        );
        res.on('error', (err: NodeJS.ErrnoException) => finish({ error: err.code ?? err.message }));
      },
    );
    req.on('socket', () => (sentAt = performance.now()));
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => finish({ error: err.code ?? err.message }));
    req.end(delivery.body);
  });
}

export interface FloodEvent {
  id: string;
  /** The signed delivery, made fresh for each attempt (Stripe signs every attempt with its own time). */
  delivery: () => RawDelivery;
}

export interface DeliveryRecord {
  id: string;
  attempts: Attempt[];
  /** The attempt that got the 2xx. */
  acked: Attempt | null;
}

export interface FloodOptions {
  /** Base URLs to deliver to, read before each attempt (round-robin), so a test can point at a new process. */
  targets: () => readonly string[];
  concurrency: number;
  /** One keep-alive connection per lane (as Stripe and load balancers do), or a new connection per delivery. */
  keepAlive: boolean;
  /** Retry non-2xx answers and failures (default true); false sends each event once. */
  retry?: boolean;
  /** First retry delay, doubled up to 1 s. */
  retryBackoffMs?: number;
}

export interface Flood {
  readonly records: ReadonlyMap<string, DeliveryRecord>;
  /** Resolves when every event is acknowledged (or stop() was called). */
  readonly done: Promise<void>;
  ackedIds(): string[];
  unackedIds(): string[];
  /** Every answer received after `since` (performance.now()), in order. */
  answersAfter(since: number): Array<{ id: string; attempt: Attempt }>;
  attempts(): number;
  stop(): Promise<void>;
}

export function startFlood(events: readonly FloodEvent[], options: FloodOptions): Flood {
  const agent = options.keepAlive ? new Agent({ keepAlive: true, maxSockets: options.concurrency }) : false;
  const retry = options.retry ?? true;
  const baseBackoff = options.retryBackoffMs ?? 50;
  const records = new Map<string, DeliveryRecord>(events.map((e) => [e.id, { id: e.id, attempts: [], acked: null }]));
  // Events due for (another) attempt, each with the earliest time it may be sent.
  const due: Array<{ event: FloodEvent; notBefore: number }> = events.map((event) => ({ event, notBefore: 0 }));
  let stopped = false;
  let inFlight = 0;
  let turn = 0;

  const lane = async () => {
    while (!stopped) {
      const now = performance.now();
      const index = due.findIndex((d) => d.notBefore <= now);
      if (index === -1) {
        if (due.length === 0 && inFlight === 0) return;
        await sleep(5); // pacing of a load generator waiting for its next retry, not a synchronisation
        continue;
      }
      const [{ event }] = due.splice(index, 1) as [{ event: FloodEvent; notBefore: number }];
      const record = records.get(event.id)!;
      const targets = options.targets();
      const target = targets[turn++ % Math.max(1, targets.length)];
      inFlight += 1;
      const attempt = target
        ? await sendRaw(target, event.delivery(), agent)
        : { sentAt: performance.now(), endedAt: performance.now(), error: 'no target' };
      inFlight -= 1;
      record.attempts.push(attempt);
      if (attempt.status !== undefined && attempt.status >= 200 && attempt.status < 300) {
        record.acked = attempt;
      } else if (retry) {
        const backoff = Math.min(1000, baseBackoff * 2 ** Math.min(10, record.attempts.length - 1));
        due.push({ event, notBefore: performance.now() + backoff });
      }
    }
  };

  const lanes = Array.from({ length: options.concurrency }, () => lane());
  const done = Promise.all(lanes).then(() => undefined);
  return {
    records,
    done,
    ackedIds: () => [...records.values()].filter((r) => r.acked).map((r) => r.id),
    unackedIds: () => [...records.values()].filter((r) => !r.acked).map((r) => r.id),
    answersAfter(since) {
      return [...records.values()]
        .flatMap((r) => r.attempts.filter((a) => a.status !== undefined && a.endedAt >= since).map((attempt) => ({ id: r.id, attempt })))
        .sort((a, b) => a.attempt.endedAt - b.attempt.endedAt);
    },
    attempts: () => [...records.values()].reduce((n, r) => n + r.attempts.length, 0),
    async stop() {
      stopped = true;
      await done;
      if (agent) agent.destroy();
    },
  };
}
