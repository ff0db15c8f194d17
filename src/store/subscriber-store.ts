/**
 * Owns the subscriber key family: `<prefix>:cus:<customer id>` (a hash: read_at, doc, user, version and
 * the card expiry marks), `<prefix>:users` (a hash: user id -> space-separated customer ids) and `<prefix>:idx:card-expiry`
 * (a sorted set of customers by the expiry of the earliest card that bills them). Every write goes through
 * one Lua script that compares read instants, so a snapshot read earlier than the stored one never
 * overwrites it, and the user index and the expiry index move in the same atomic step.
 */
import type { Redis } from 'ioredis';
import type { CardExpiryMark, CustomerProjection, FlagSource } from '../domain/projection.js';
import { markKey } from '../domain/card-marks.js';
import { expiryIndexScore } from '../domain/expiry-plan.js';
import { HONOUR_SCRIPT, RAISE_FLAG_SCRIPT, READ_BY_USER_SCRIPT, WRITE_SCRIPT } from './subscriber-scripts.js';

export type WriteResult = 'written' | 'stale';
export type RaiseFlagResult = 'raised' | 'already_flagged' | 'honoured' | 'missing';
export type HonourResult = 'honoured' | 'already_honoured' | 'missing';

/** A projection with the version of the hash it was read from (bumped by every write, flag and honour). */
export interface SubscriberState {
  projection: CustomerProjection;
  version: number;
}

export interface DueCustomer {
  customerId: string;
  /** ms; the earliest expiry among the cards billing this customer. */
  expiresAt: number;
}

type CardAtExpiry = { id: string; exp_month: number; exp_year: number };

export interface SubscriberStore {
  read(customerId: string): Promise<CustomerProjection | null>;
  readState(customerId: string): Promise<SubscriberState | null>;
  /** Many customers in one round trip (a pipeline); missing ones are left out. */
  readMany(customerIds: readonly string[]): Promise<SubscriberState[]>;
  /** Every customer whose metadata names this user (usually one), in one round trip. */
  readByUser(userId: string): Promise<CustomerProjection[]>;
  /**
   * read() and one more hash of another family (its key from its owner's helper, e.g. the reader's
   * grants), in one round trip: the entitlement route's whole read.
   */
  readAlong(customerId: string, alsoKey: string): Promise<{ projection: CustomerProjection | null; also: Record<string, string> }>;
  /** readByUser() and one more hash, in one round trip. */
  readByUserAlong(userId: string, alsoKey: string): Promise<{ projections: CustomerProjection[]; also: Record<string, string> }>;
  write(projection: CustomerProjection): Promise<WriteResult>;
  /** Many writes in one pipeline (the resync, benches): each is the same guarded script as write(). */
  writeMany(projections: readonly CustomerProjection[]): Promise<WriteResult[]>;
  raiseExpiryFlag(customerId: string, card: CardAtExpiry, at: number, source: FlagSource): Promise<RaiseFlagResult>;
  /** Records that a payment after the card's expiry proved it still pays: the card is not flagged again. */
  honourCard(customerId: string, card: CardAtExpiry, at: number): Promise<HonourResult>;
  /** Customers whose earliest billed card expires at or before `until`, earliest first, paged. */
  dueCustomers(until: number, offset: number, limit: number): Promise<DueCustomer[]>;
}

interface ScriptedRedis extends Redis {
  subgateWriteSubscriber(hashKey: string, indexKey: string, ...args: string[]): Promise<number>;
  pipeline(): ReturnType<Redis['pipeline']> & { subgateWriteSubscriber(hashKey: string, indexKey: string, ...args: string[]): unknown };
  subgateReadByUser(userIndex: string, userId: string, customerPrefix: string): Promise<string[][]>;
  subgateRaiseFlag(hashKey: string, mark: string, at: string, source: string): Promise<RaiseFlagResult>;
  subgateHonour(hashKey: string, mark: string, at: string): Promise<HonourResult>;
}

/** The one place the subscriber keys are spelled. */
export function subscriberKeys(prefix: string) {
  return {
    customerPrefix: `${prefix}:cus:`,
    userIndex: `${prefix}:users`,
    expiryIndex: `${prefix}:idx:card-expiry`,
  };
}

export function createSubscriberStore(deps: { redis: Redis; prefix: string }): SubscriberStore {
  const keys = subscriberKeys(deps.prefix);
  const redis = deps.redis as ScriptedRedis;
  if (typeof redis.subgateWriteSubscriber !== 'function') {
    redis.defineCommand('subgateWriteSubscriber', { numberOfKeys: 3, lua: WRITE_SCRIPT });
    redis.defineCommand('subgateReadByUser', { numberOfKeys: 1, lua: READ_BY_USER_SCRIPT });
    redis.defineCommand('subgateRaiseFlag', { numberOfKeys: 1, lua: RAISE_FLAG_SCRIPT });
    redis.defineCommand('subgateHonour', { numberOfKeys: 1, lua: HONOUR_SCRIPT });
  }
  const hashKey = (customerId: string) => keys.customerPrefix + customerId;

  /** The script's arguments for one projection: three keys, then read_at, doc, user, customer, score, marks to keep. */
  function writeArgs(projection: CustomerProjection): [string, string, ...string[]] {
    const { expiry_marks: _marks, ...doc } = projection;
    const score = expiryIndexScore(projection);
    return [
      hashKey(projection.customer),
      keys.expiryIndex,
      keys.userIndex,
      String(projection.read_at),
      JSON.stringify(doc),
      projection.user ?? '',
      projection.customer,
      score === null ? '' : String(score),
      ...cardMarkKeys(projection),
    ];
  }

  async function readState(customerId: string): Promise<SubscriberState | null> {
    return parseHash(await redis.hgetall(hashKey(customerId)));
  }

  return {
    async read(customerId) {
      return (await readState(customerId))?.projection ?? null;
    },
    readState,
    async readMany(customerIds) {
      if (customerIds.length === 0) return [];
      const pipeline = redis.pipeline();
      for (const id of customerIds) pipeline.hgetall(hashKey(id));
      const replies = (await pipeline.exec()) ?? [];
      const states: SubscriberState[] = [];
      for (const [err, fields] of replies) {
        if (err) throw err;
        const state = parseHash(fields as Record<string, string>);
        if (state) states.push(state);
      }
      return states;
    },
    async readByUser(userId) {
      const hashes = await redis.subgateReadByUser(keys.userIndex, userId, keys.customerPrefix);
      return hashes.map((flat) => parseHash(pairsToRecord(flat))?.projection).filter((p): p is CustomerProjection => !!p);
    },
    // Two commands sent together, not a MULTI or a pipeline object: on the API's auto-pipelining
    // connection they join the same write as every other request's commands (an explicit pipeline
    // would be a write of its own per request), and either way they cost one round trip.
    async readAlong(customerId, alsoKey) {
      const [customer, also] = await Promise.all([redis.hgetall(hashKey(customerId)), redis.hgetall(alsoKey)]);
      return { projection: parseHash(customer)?.projection ?? null, also };
    },
    async readByUserAlong(userId, alsoKey) {
      const [hashes, also] = await Promise.all([redis.subgateReadByUser(keys.userIndex, userId, keys.customerPrefix), redis.hgetall(alsoKey)]);
      const projections = hashes.map((flat) => parseHash(pairsToRecord(flat))?.projection).filter((p): p is CustomerProjection => !!p);
      return { projections, also };
    },
    async write(projection) {
      const version = await redis.subgateWriteSubscriber(...writeArgs(projection));
      return version > 0 ? 'written' : 'stale';
    },
    async writeMany(projections) {
      if (projections.length === 0) return [];
      const pipeline = redis.pipeline();
      for (const projection of projections) pipeline.subgateWriteSubscriber(...writeArgs(projection));
      const replies = (await pipeline.exec()) ?? [];
      return replies.map(([err, version]) => {
        if (err) throw err;
        return Number(version) > 0 ? 'written' : 'stale';
      });
    },
    async raiseExpiryFlag(customerId, card, at, source) {
      return redis.subgateRaiseFlag(hashKey(customerId), markKey(card), String(at), source);
    },
    async honourCard(customerId, card, at) {
      return redis.subgateHonour(hashKey(customerId), markKey(card), String(at));
    },
    async dueCustomers(until, offset, limit) {
      const flat = await redis.zrangebyscore(keys.expiryIndex, '-inf', String(until), 'WITHSCORES', 'LIMIT', offset, limit);
      const due: DueCustomer[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) due.push({ customerId: flat[i]!, expiresAt: Number(flat[i + 1]) });
      return due;
    },
  };
}

/** Mark keys of every card the projection mentions: marks of any other card are dropped on write. */
function cardMarkKeys(projection: CustomerProjection): string[] {
  const cards = [projection.default_card, ...projection.subscriptions.map((s) => s.card)];
  return [...new Set(cards.filter((c) => c !== null).map((c) => markKey(c)))];
}

function pairsToRecord(flat: readonly string[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) record[flat[i]!] = flat[i + 1]!;
  return record;
}

function parseHash(fields: Record<string, string> | null | undefined): SubscriberState | null {
  const doc = fields?.doc;
  if (!fields || doc === undefined) return null;
  const projection = JSON.parse(doc) as CustomerProjection;
  const marks = parseMarks(fields);
  if (marks.length > 0) projection.expiry_marks = marks;
  return { projection, version: Number(fields.version ?? 0) };
}

/** `flag:<card>|<yyyy>-<mm>` = "<ms>|<source>", `honoured:<card>|<yyyy>-<mm>` = "<ms>", folded into marks. */
function parseMarks(fields: Record<string, string>): CardExpiryMark[] {
  const byKey = new Map<string, CardExpiryMark>();
  for (const [field, value] of Object.entries(fields)) {
    const match = /^(flag|honoured):(.+)\|(\d{4})-(\d{2})$/.exec(field);
    if (!match) continue;
    const [, family, card = '', year, month] = match;
    const key = `${card}|${year}-${month}`;
    const mark = byKey.get(key) ?? {
      card,
      exp_month: Number(month),
      exp_year: Number(year),
      flagged_at: null,
      flag_source: null,
      honoured_at: null,
    };
    if (family === 'flag') {
      const [at, source] = value.split('|');
      mark.flagged_at = Number(at);
      mark.flag_source = (source as FlagSource | undefined) ?? null;
    } else {
      mark.honoured_at = Number(value);
    }
    byKey.set(key, mark);
  }
  return [...byKey.values()];
}
