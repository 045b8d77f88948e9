import { hashTagSpan } from '../../config/redis-target.js';
import { QUEUE_NAMES, QUEUE_OF, type QueueName } from './catalogue.js';

/**
 * Queue shards (design §9). BullMQ keeps all of a queue's keys in one hash slot, so on a Redis
 * Cluster one queue lives on one master, however many there are. QUEUE_SHARDS = n gives every
 * queue n copies, each under its own hash tag — `{seckill}` becomes `{seckill:0}` … `{seckill:n-1}`
 * (see shardTag for the exact names) — on slots spread evenly over the cluster's 16384. An order's
 * jobs always go to the same shard, chosen from its id, so its deterministic job ids
 * (`timeout-<orderId>`, …) still collapse duplicates; every worker consumes every shard.
 * With QUEUE_SHARDS = 1 the prefix is used unchanged: the keys are exactly those of before.
 */

const SLOTS = 16_384;

/** CRC16/XMODEM modulo 16384: the slot Redis Cluster gives a hash tag. */
export function slotOf(tag: string): number {
  let crc = 0;
  for (const byte of Buffer.from(tag, 'utf8')) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i += 1) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % SLOTS;
}

/**
 * The hash tag of shard `shard` of `shards`: `<tag>:<shard>` if its slot lies in the middle half
 * of the shard's n-th of the slot space, else the first `<tag>:<shard>.<k>` (k = 1, 2, …) whose
 * slot does. Plain `:<shard>` suffixes would fall where the hash puts them — three shards on
 * three masters share a master 7 times in 9 — while a cluster split evenly (as
 * `redis-cli --cluster create` does) then holds shards 0…n-1 in order: one per master when n
 * is the number of masters, n/masters each when a multiple. Deterministic: every process
 * computes the same names from QUEUE_PREFIX and QUEUE_SHARDS.
 */
export function shardTag(tag: string, shard: number, shards: number): string {
  const width = SLOTS / shards;
  const low = shard * width + width / 4;
  const high = shard * width + (3 * width) / 4;
  for (let k = 0; ; k += 1) {
    const candidate = k === 0 ? `${tag}:${shard}` : `${tag}:${shard}.${k}`;
    const slot = slotOf(candidate);
    // (a 1-in-2n chance per candidate: about 2n tries, microseconds, once per process)
    if (slot >= low && slot < high) return candidate;
  }
}

/** The prefix of shard `shard` of `shards` (QUEUE_PREFIX's first hash tag becomes shardTag's). */
export function shardPrefix(prefix: string, shard: number, shards: number): string {
  if (shards === 1) return prefix;
  const span = hashTagSpan(prefix);
  // config validation refuses QUEUE_SHARDS > 1 without a tag; this is for direct callers
  if (!span) throw new Error(`queue prefix ${prefix} has no hash tag to shard`);
  const tag = prefix.slice(span.open + 1, span.close);
  return `${prefix.slice(0, span.open + 1)}${shardTag(tag, shard, shards)}${prefix.slice(span.close)}`;
}

/**
 * FNV-1a (32 bits) of the order id, modulo the shard count: cheap, stable across processes and
 * versions (never Math.random, never a per-process seed), and even enough over our ids, whose
 * low digits are a millisecond clock and a sequence.
 */
export function shardOf(orderId: string, shards: number): number {
  if (shards === 1) return 0;
  let hash = 0x811c9dc5;
  for (let i = 0; i < orderId.length; i += 1) {
    hash ^= orderId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % shards;
}

/**
 * The queues each shard holds: every order-keyed queue everywhere; the maintenance and
 * reconciliation queues (one scheduler each, no order) only on shard 0, so each tick runs once.
 */
export function queuesOfShard(shard: number): QueueName[] {
  return shard === 0 ? [...QUEUE_NAMES] : QUEUE_NAMES.filter((name) => name !== QUEUE_OF.sweep && name !== QUEUE_OF['reconcile-day']);
}
