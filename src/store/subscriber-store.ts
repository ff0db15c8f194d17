/**
 * Owns the subscriber key family (layout: key-layout.ts). Per customer, under its shard tag:
 * `<prefix>:{s<n>}:cus:<customer id>` (a hash: read_order, read_at, doc, user, version and the card expiry
 * marks). Two global indexes, each in SHARDS shards: `<prefix>:{s<n>}:idx:card-expiry` (customers by the
 * expiry of the earliest card that bills them; a customer sits in its own shard's) and
 * `<prefix>:{s<n>}:users` (user id -> space-separated customer ids; a user sits in its own shard's).
 *
 * Every write goes through one Lua script on the customer's slot that compares read orders (the instant,
 * on Redis's clock, the Stripe read began: readInstant), so a snapshot read earlier than the stored one
 * never overwrites it, and the expiry index moves in the same atomic step. The user index is in another
 * slot, so it moves in steps around that write: the customer is added to its new user's list before, and
 * taken off its old user's list after. readByUser checks each listed customer's own `user`, so an entry a
 * crash left behind is never an answer; an entry a crash never wrote is written by the customer's next write.
 */
import type { Redis } from 'ioredis';
import type { CardExpiryMark, CustomerProjection, FlagSource } from '../domain/projection.js';
import { markKey } from '../domain/card-marks.js';
import { expiryIndexScore } from '../domain/expiry-plan.js';
import { HONOUR_SCRIPT, RAISE_FLAG_SCRIPT, READ_INSTANT_SCRIPT, USER_ADD_SCRIPT, USER_REMOVE_SCRIPT, WRITE_SCRIPT } from './subscriber-scripts.js';
import { SHARDS, allIndexKeys, customerKey, indexKeyFor } from './key-layout.js';

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
   * grants), sent together: the entitlement route's whole read.
   */
  readAlong(customerId: string, alsoKey: string): Promise<{ projection: CustomerProjection | null; also: Record<string, string> }>;
  /** readByUser() and one more hash, the hash sent with the user index's read. */
  readByUserAlong(userId: string, alsoKey: string): Promise<{ projections: CustomerProjection[]; also: Record<string, string> }>;
  /**
   * The instant (µs, on the clock of the Redis node that holds the customer) a Stripe read of this customer
   * begins: the order the write guard keeps. One clock for every process, whatever their hosts' say.
   */
  readInstant(customerId: string): Promise<number>;
  /** Guarded by `order` (a readInstant, µs), else by the projection's read_at (ms, taken as µs). */
  write(projection: CustomerProjection, order?: number): Promise<WriteResult>;
  /** Many writes at once (the resync, benches): each is the same guarded write as write(). */
  writeMany(projections: readonly CustomerProjection[], order?: number): Promise<WriteResult[]>;
  raiseExpiryFlag(customerId: string, card: CardAtExpiry, at: number, source: FlagSource): Promise<RaiseFlagResult>;
  /** Records that a payment after the card's expiry proved it still pays: the card is not flagged again. */
  honourCard(customerId: string, card: CardAtExpiry, at: number): Promise<HonourResult>;
  /**
   * Customers whose earliest billed card expires at or before `until`, paged: `offset` counts through
   * the index's shards in shard order, earliest first within each.
   */
  dueCustomers(until: number, offset: number, limit: number): Promise<DueCustomer[]>;
}

interface ScriptedRedis extends Redis {
  subgateWriteSubscriber(hashKey: string, indexKey: string, ...args: string[]): Promise<0 | [number, string]>;
  subgateUserAdd(userIndex: string, userId: string, customerId: string): Promise<number>;
  subgateUserRemove(userIndex: string, userId: string, customerId: string): Promise<number>;
  subgateReadInstant(key: string): Promise<string>;
  subgateRaiseFlag(hashKey: string, mark: string, at: string, source: string): Promise<RaiseFlagResult>;
  subgateHonour(hashKey: string, mark: string, at: string): Promise<HonourResult>;
}

const EXPIRY_INDEX = 'idx:card-expiry';
const USER_INDEX = 'users';

/** The one place the subscriber keys are spelled (the hash-tag rule: key-layout.ts). */
export function subscriberKeys(prefix: string) {
  return {
    customer: (customerId: string) => customerKey(prefix, 'cus', customerId),
    /** The shard of the expiry index that holds this customer (same slot as its hash). */
    expiryIndexFor: (customerId: string) => indexKeyFor(prefix, EXPIRY_INDEX, customerId),
    expiryIndexShards: () => allIndexKeys(prefix, EXPIRY_INDEX),
    /** The shard of the user index that holds this user. */
    userIndexFor: (userId: string) => indexKeyFor(prefix, USER_INDEX, userId),
  };
}

export function createSubscriberStore(deps: { redis: Redis; prefix: string }): SubscriberStore {
  const keys = subscriberKeys(deps.prefix);
  const redis = deps.redis as ScriptedRedis;
  if (typeof redis.subgateWriteSubscriber !== 'function') {
    redis.defineCommand('subgateWriteSubscriber', { numberOfKeys: 2, lua: WRITE_SCRIPT });
    redis.defineCommand('subgateUserAdd', { numberOfKeys: 1, lua: USER_ADD_SCRIPT });
    redis.defineCommand('subgateUserRemove', { numberOfKeys: 1, lua: USER_REMOVE_SCRIPT });
    redis.defineCommand('subgateReadInstant', { numberOfKeys: 1, lua: READ_INSTANT_SCRIPT });
    redis.defineCommand('subgateRaiseFlag', { numberOfKeys: 1, lua: RAISE_FLAG_SCRIPT });
    redis.defineCommand('subgateHonour', { numberOfKeys: 1, lua: HONOUR_SCRIPT });
  }
  const hashKey = keys.customer;

  /** The script's arguments for one projection: two keys, then order, read_at, doc, user, customer, score, marks to keep. */
  function writeArgs(projection: CustomerProjection, order: number): [string, string, ...string[]] {
    const { expiry_marks: _marks, ...doc } = projection;
    const score = expiryIndexScore(projection);
    return [
      hashKey(projection.customer),
      keys.expiryIndexFor(projection.customer),
      String(order),
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

  // One command per customer rather than one pipeline: on a cluster they go to different nodes (ioredis
  // batches those in flight together per node).
  async function readMany(customerIds: readonly string[]): Promise<SubscriberState[]> {
    const hashes = await Promise.all(customerIds.map((id) => redis.hgetall(hashKey(id))));
    return hashes.map(parseHash).filter((state): state is SubscriberState => state !== null);
  }

  async function write(projection: CustomerProjection, order = projection.read_at * 1000): Promise<WriteResult> {
    const user = projection.user ?? '';
    // Before the write: a reader of the user's list must never miss a customer already written for it.
    if (user !== '') await redis.subgateUserAdd(keys.userIndexFor(user), user, projection.customer);
    const reply = await redis.subgateWriteSubscriber(...writeArgs(projection, order));
    if (!Array.isArray(reply)) return 'stale';
    const previousUser = String(reply[1] ?? '');
    if (previousUser !== '' && previousUser !== user) {
      await redis.subgateUserRemove(keys.userIndexFor(previousUser), previousUser, projection.customer);
    }
    return 'written';
  }

  async function readByUser(userId: string): Promise<CustomerProjection[]> {
    const list = (await redis.hget(keys.userIndexFor(userId), userId)) ?? '';
    const ids = list.split(' ').filter((id) => id !== '');
    if (ids.length === 0) return [];
    // The list is a hint kept in a second step; the customer's own hash says whose it is.
    return (await readMany(ids)).map((state) => state.projection).filter((p) => p.user === userId);
  }

  return {
    async read(customerId) {
      return (await readState(customerId))?.projection ?? null;
    },
    readState,
    readMany,
    readByUser,
    // Commands sent together, not a MULTI or a pipeline object: on the API's auto-pipelining connection
    // they join the same write as every other request's commands (an explicit pipeline would be a write of
    // its own per request), and each touches one key, so a cluster routes each to its node.
    async readAlong(customerId, alsoKey) {
      const [customer, also] = await Promise.all([redis.hgetall(hashKey(customerId)), redis.hgetall(alsoKey)]);
      return { projection: parseHash(customer)?.projection ?? null, also };
    },
    async readByUserAlong(userId, alsoKey) {
      const [projections, also] = await Promise.all([readByUser(userId), redis.hgetall(alsoKey)]);
      return { projections, also };
    },
    async readInstant(customerId) {
      return Number(await redis.subgateReadInstant(hashKey(customerId)));
    },
    write,
    async writeMany(projections, order) {
      return Promise.all(projections.map((projection) => write(projection, order)));
    },
    async raiseExpiryFlag(customerId, card, at, source) {
      return redis.subgateRaiseFlag(hashKey(customerId), markKey(card), String(at), source);
    },
    async honourCard(customerId, card, at) {
      return redis.subgateHonour(hashKey(customerId), markKey(card), String(at));
    },
    async dueCustomers(until, offset, limit) {
      const shards = keys.expiryIndexShards();
      const counts = await Promise.all(shards.map((key) => redis.zcount(key, '-inf', String(until))));
      const due: DueCustomer[] = [];
      let skip = offset;
      for (let shard = 0; shard < SHARDS && due.length < limit; shard++) {
        const count = counts[shard]!;
        if (skip >= count) {
          skip -= count;
          continue;
        }
        const flat = await redis.zrangebyscore(shards[shard]!, '-inf', String(until), 'WITHSCORES', 'LIMIT', skip, limit - due.length);
        skip = 0;
        for (let i = 0; i + 1 < flat.length; i += 2) due.push({ customerId: flat[i]!, expiresAt: Number(flat[i + 1]) });
      }
      return due;
    },
  };
}

/** Mark keys of every card the projection mentions: marks of any other card are dropped on write. */
function cardMarkKeys(projection: CustomerProjection): string[] {
  const cards = [projection.default_card, ...projection.subscriptions.map((s) => s.card)];
  return [...new Set(cards.filter((c) => c !== null).map((c) => markKey(c)))];
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
