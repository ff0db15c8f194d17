/**
 * Owns the recovery-funnel key family. A card problem (an expired card, one about to expire, a failed
 * payment) opens an episode for the customer, `<prefix>:funnel:episode:<customer id>` (a hash: the
 * problem, when and on which UTC day it was detected, and when each later step first happened). Each step
 * counts once per episode, on the day the episode was detected (a cohort), in
 * `<prefix>:funnel:day:<yyyy-mm-dd>` (a hash `<problem>|<step>` -> count); the time from detection to
 * access restored goes to `<prefix>:funnel:restore:<yyyy-mm-dd>:<problem>` (a list of ms, bounded) for
 * the day's median. The episode is judged in one script on its own key and the day's figures are
 * separate keys, so a Redis Cluster never needs two slots in one command; a crash between the two loses
 * one count, never double-counts.
 */
import type { Redis } from 'ioredis';

export const CARD_PROBLEMS = ['expired', 'expiring', 'failed_payment'] as const;
export type CardProblem = (typeof CARD_PROBLEMS)[number];

export const FUNNEL_STEPS = ['detected', 'notice_sent', 'link_opened', 'portal_session', 'card_updated', 'restored'] as const;
export type FunnelStep = (typeof FUNNEL_STEPS)[number];

/** A step that counted (the first of its kind in its episode). */
export interface CountedStep {
  problem: CardProblem;
  step: FunnelStep;
  /** The episode's detection day, `yyyy-mm-dd`. */
  day: string;
  /** ms from detection to this step. */
  sinceDetectedMs: number;
}

export interface FunnelDay {
  day: string;
  problem: CardProblem;
  counts: Record<FunnelStep, number>;
  /** ms; median time from detection to restored, among the day's restored episodes; null with none. */
  medianRestoreMs: number | null;
  /** ms; each restored episode's time from detection (the latest 10 000). */
  restoreMs: number[];
}

export interface RecoveryFunnelStore {
  /** Opens an episode unless one is open (not yet restored; an open `expiring` one gives way to a worse problem); counts `detected` when it opens one. */
  detect(customerId: string, problem: CardProblem, at: number): Promise<CountedStep | null>;
  /** Marks a later step of the customer's open episode; null when there is none or the step is marked. */
  step(customerId: string, step: Exclude<FunnelStep, 'detected'>, at: number): Promise<CountedStep | null>;
  /** The figures of these days (`yyyy-mm-dd`), every problem, in the order given. */
  read(days: readonly string[]): Promise<FunnelDay[]>;
}

const DAY_MS = 86_400_000;
/** An episode nobody finishes is forgotten after this long (a new problem then opens a new one). */
const EPISODE_TTL_MS = 90 * DAY_MS;
/** Day figures are kept this long: over a year, for year-on-year looks. */
const DAY_TTL_MS = 400 * DAY_MS;
const RESTORE_SAMPLES = 10_000;

export const utcDay = (at: number): string => new Date(at).toISOString().slice(0, 10);

/**
 * KEYS[1] episode; ARGV: problem, at, day, ttl. Returns {problem, day, detected_at} when it opened one.
 * An open episode holds, except that an expiring card which went on to expire (or to fail a payment)
 * becomes that worse problem: the expiring episode stays counted as far as it got, unrestored.
 */
const DETECT_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 and redis.call('HEXISTS', KEYS[1], 'restored') == 0 then
  local open = redis.call('HGET', KEYS[1], 'problem')
  if not (open == 'expiring' and ARGV[1] ~= 'expiring') then return false end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'problem', ARGV[1], 'detected_at', ARGV[2], 'day', ARGV[3], 'detected', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {ARGV[1], ARGV[3], ARGV[2]}
`;

/** KEYS[1] episode; ARGV: step, at. Returns {problem, day, detected_at} when this step counted. */
const STEP_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'restored') == 1 then return false end
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return false end
local e = redis.call('HMGET', KEYS[1], 'problem', 'day', 'detected_at')
return e
`;

interface ScriptedRedis extends Redis {
  subgateFunnelDetect(key: string, problem: string, at: string, day: string, ttl: string): Promise<[string, string, string] | null>;
  subgateFunnelStep(key: string, step: string, at: string): Promise<[string, string, string] | null>;
}

/** The one place these keys are spelled. */
export function recoveryFunnelKeys(prefix: string) {
  return {
    episode: (customerId: string) => `${prefix}:funnel:episode:${customerId}`,
    day: (day: string) => `${prefix}:funnel:day:${day}`,
    restoreTimes: (day: string, problem: CardProblem) => `${prefix}:funnel:restore:${day}:${problem}`,
  };
}

export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : Math.round((sorted[mid - 1]! + sorted[mid]!) / 2);
}

export function createRecoveryFunnelStore(deps: { redis: Redis; prefix: string }): RecoveryFunnelStore {
  const keys = recoveryFunnelKeys(deps.prefix);
  const redis = deps.redis as ScriptedRedis;
  if (typeof redis.subgateFunnelDetect !== 'function') {
    redis.defineCommand('subgateFunnelDetect', { numberOfKeys: 1, lua: DETECT_SCRIPT });
    redis.defineCommand('subgateFunnelStep', { numberOfKeys: 1, lua: STEP_SCRIPT });
  }

  async function count(problem: CardProblem, step: FunnelStep, day: string, sinceDetectedMs: number): Promise<CountedStep> {
    // Separate one-key commands, not a MULTI: a day's counts and its restore times live on different slots
    // of a cluster, and each count stands alone (sent together, they still cost one round trip per node).
    const writes: Promise<unknown>[] = [redis.hincrby(keys.day(day), `${problem}|${step}`, 1), redis.pexpire(keys.day(day), DAY_TTL_MS)];
    if (step === 'restored') {
      const list = keys.restoreTimes(day, problem);
      writes.push(redis.rpush(list, String(sinceDetectedMs)), redis.ltrim(list, -RESTORE_SAMPLES, -1), redis.pexpire(list, DAY_TTL_MS));
    }
    await Promise.all(writes);
    return { problem, step, day, sinceDetectedMs };
  }

  return {
    async detect(customerId, problem, at) {
      const day = utcDay(at);
      const opened = await redis.subgateFunnelDetect(keys.episode(customerId), problem, String(at), day, String(EPISODE_TTL_MS));
      return opened ? count(problem, 'detected', day, 0) : null;
    },
    async step(customerId, step, at) {
      const marked = await redis.subgateFunnelStep(keys.episode(customerId), step, String(at));
      if (!marked || !marked[0] || !marked[1]) return null;
      const [problem, day, detectedAt] = marked;
      return count(problem as CardProblem, step, day, Math.max(0, at - Number(detectedAt)));
    },
    async read(days) {
      // One-key commands sent together (no pipeline object: a cluster routes each key to its own node).
      const replies = await Promise.all(
        days.flatMap((day) => [
          redis.hgetall(keys.day(day)).then((hash): [null, unknown] => [null, hash]),
          ...CARD_PROBLEMS.map((problem) => redis.lrange(keys.restoreTimes(day, problem), 0, -1).then((list): [null, unknown] => [null, list])),
        ]),
      );
      const out: FunnelDay[] = [];
      let i = 0;
      for (const day of days) {
        const [err, hash] = replies[i++] ?? [null, {}];
        if (err) throw err;
        const figures = (hash ?? {}) as Record<string, string>;
        for (const problem of CARD_PROBLEMS) {
          const [listErr, list] = replies[i++] ?? [null, []];
          if (listErr) throw listErr;
          const counts = Object.fromEntries(FUNNEL_STEPS.map((step) => [step, Number(figures[`${problem}|${step}`] ?? 0)])) as Record<FunnelStep, number>;
          const restoreMs = ((list ?? []) as string[]).map(Number).filter(Number.isFinite);
          out.push({ day, problem, counts, medianRestoreMs: median(restoreMs), restoreMs });
        }
      }
      return out;
    },
  };
}
