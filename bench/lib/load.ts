/**
 * One load run with autocannon, in this (the orchestrator's) process, against a child server on
 * 127.0.0.1. Every figure uses the same shape of request generator (one request whose setupRequest
 * picks the next path/body), so the load generator costs every server the same.
 */
import autocannon, { type RequestParams, type Result } from 'autocannon';

export interface LoadSpec {
  port: number;
  /** Called once per request; return the request to send. */
  next: () => RequestParams;
  method?: 'GET' | 'POST';
  durationS: number;
  connections: number;
  /** Fixed offered rate (req/s over all connections); full speed when absent. */
  overallRate?: number;
  /** Stop after this many requests even if the duration has not passed (finite request pools). */
  maxRequests?: number;
}

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  /** ms, mean latency */
  mean: number;
  requests: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  durationS: number;
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const result: Result = await autocannon({
    url: `http://127.0.0.1:${spec.port}`,
    connections: spec.connections,
    pipelining: 1,
    duration: spec.durationS,
    timeout: 10,
    ...(spec.overallRate ? { overallRate: spec.overallRate } : {}),
    ...(spec.maxRequests ? { maxOverallRequests: Math.max(spec.maxRequests, spec.connections) } : {}),
    requests: [{ method: spec.method ?? 'GET', setupRequest: (request) => ({ ...request, ...spec.next() }) }],
  });
  const requests = result.requests.total;
  return {
    rps: requests / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    mean: result.latency.mean,
    requests,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    durationS: result.duration,
  };
}

export interface Contender {
  label: string;
  /** Evaluated before every segment (a finite pool can report what is left). */
  spec: () => Omit<LoadSpec, 'durationS'>;
}

/**
 * Measures several servers in turns of `segmentS` seconds, rotating the order every round, so a slow
 * minute on a shared machine lands on all of them alike instead of on whichever ran then. Each gets
 * one unmeasured warm-up first. req/s is total requests over total time; p50/p99 are the medians of
 * the segments' figures.
 */
export async function interleaved(contenders: Contender[], opts: { segments: number; segmentS: number; warmupS: number }): Promise<Map<string, LoadResult>> {
  const segments = new Map<string, LoadResult[]>(contenders.map((c) => [c.label, []]));
  for (const c of contenders) if (opts.warmupS > 0) await runLoad({ ...c.spec(), durationS: opts.warmupS });
  for (let round = 0; round < opts.segments; round++) {
    for (let k = 0; k < contenders.length; k++) {
      const c = contenders[(k + round) % contenders.length]!;
      segments.get(c.label)!.push(await runLoad({ ...c.spec(), durationS: opts.segmentS }));
    }
  }
  return new Map([...segments].map(([label, parts]) => [label, combine(parts)]));
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

function combine(parts: LoadResult[]): LoadResult {
  const sum = (f: (r: LoadResult) => number) => parts.reduce((acc, r) => acc + f(r), 0);
  const requests = sum((r) => r.requests);
  const durationS = sum((r) => r.durationS);
  return {
    rps: requests / durationS,
    p50: median(parts.map((r) => r.p50)),
    p99: median(parts.map((r) => r.p99)),
    mean: sum((r) => r.mean * r.requests) / Math.max(1, requests),
    requests,
    ok: sum((r) => r.ok),
    non2xx: sum((r) => r.non2xx),
    errors: sum((r) => r.errors),
    timeouts: sum((r) => r.timeouts),
    durationS,
  };
}
