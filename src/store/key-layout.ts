/**
 * Where every key lives on a Redis Cluster: the one hash-tag rule all store modules follow. A cluster
 * puts a key in one of 16384 slots by the part of its name inside `{…}` (the whole name without one),
 * and a script or MULTI may only touch keys of one slot. The same names are used on a single Redis, so
 * the suite exercises one layout everywhere.
 *
 * The rule, for a store module written the usual way (`<prefix>:<family>:<id>`):
 * 1. A key that is only ever touched alone (an event's ledger entry, a notice record, a counter hash,
 *    a lease) needs no tag: the cluster spreads such keys by their own names.
 * 2. Keys about one customer that a script touches together carry that customer's shard tag,
 *    customerKey(prefix, family, customerId): `<prefix>:{s<n>}:<family>:<id>`. A customer's keys share a slot,
 *    and customers spread over SHARDS tags (so over every node), never all under one tag.
 * 3. A global index (user -> customers, customers by card expiry) is SHARDS keys, indexKey(prefix,
 *    family, shard): `<prefix>:{s<n>}:<family>`. An index kept per customer (card expiry) goes in the
 *    customer's own shard, so its update stays in the customer's atomic write. An index keyed by something
 *    else (the user id) lives in that thing's shard: written in a second step after the customer, and read
 *    through a check against the customer (a stale entry is ignored, a missing one comes back at the
 *    customer's next write).
 * 4. What must keep one order for everyone (the change feed) is one key family under one fixed tag,
 *    orderedKey(prefix, name): `<prefix>:{feed}:<name>`; it is written in a step of its own.
 * 5. Each BullMQ queue gets a prefix of its own tag, queuePrefix(prefix, queue): `<prefix>:{q.<queue>}`,
 *    BullMQ's documented requirement (its scripts touch many keys of one queue); one queue per slot,
 *    queues spread over slots.
 * Every key starts with `<prefix>:`, so a SCAN for `<prefix>:*` (on every master) still finds them all.
 */

/**
 * How many tags customers and global indexes spread over. Fixed: changing it moves every customer key.
 * 256 lets a cluster of up to 256 masters hold customers on each, and keeps the card-expiry sweep at 256
 * small range reads a run.
 */
export const SHARDS = 256;

/** FNV-1a, 32 bits: stable across processes and versions (the shard of a customer must never change). */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** The shard (0 .. SHARDS-1) an id belongs to. */
export function shardOf(id: string): number {
  return fnv1a(id) % SHARDS;
}

/** `{s<n>}`: the hash tag of shard n. */
export function shardTag(shard: number): string {
  if (!Number.isInteger(shard) || shard < 0 || shard >= SHARDS) throw new RangeError(`shard ${shard} is not 0..${SHARDS - 1}`);
  return `{s${shard}}`;
}

/** A per-customer key (rule 2): `<prefix>:{s<n>}:<family>:<customer id>`. */
export function customerKey(prefix: string, family: string, customerId: string): string {
  return `${prefix}:${shardTag(shardOf(customerId))}:${family}:${customerId}`;
}

/** One shard of a global index (rule 3): `<prefix>:{s<n>}:<family>`. */
export function indexKey(prefix: string, family: string, shard: number): string {
  return `${prefix}:${shardTag(shard)}:${family}`;
}

/** The shard of a global index that holds `id` (a user id, a customer id). */
export function indexKeyFor(prefix: string, family: string, id: string): string {
  return indexKey(prefix, family, shardOf(id));
}

/** Every shard of a global index, in shard order. */
export function allIndexKeys(prefix: string, family: string): string[] {
  return Array.from({ length: SHARDS }, (_, shard) => indexKey(prefix, family, shard));
}

/** A key of the one ordered family (rule 4): `<prefix>:{feed}:<name>`. */
export function orderedKey(prefix: string, name: string): string {
  return `${prefix}:{feed}:${name}`;
}

/** The BullMQ prefix of one queue (rule 5): its keys are `<prefix>:{q.<queue>}:<queue>:…`. */
export function queuePrefix(prefix: string, queueName: string): string {
  return `${prefix}:{q.${queueName}}`;
}
