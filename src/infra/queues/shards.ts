import { hashTagSpan } from '../../config/redis-target.js';
import { QUEUE_NAMES, QUEUE_OF, type QueueName } from './catalogue.js';

/**
 * Queue shards (design §9). BullMQ keeps all of a queue's keys in one hash slot, so on a Redis
 * Cluster one queue lives on one master, however many there are. QUEUE_SHARDS = n gives every
 * queue n copies, each under its own hash tag — `{seckill}` becomes `{seckill:0}` … `{seckill:n-1}`
 * — which the cluster places on different slots (and so, usually, masters). An order's jobs
 * always go to the same shard, chosen from its id, so its deterministic job ids
 * (`timeout-<orderId>`, …) still collapse duplicates; every worker consumes every shard.
 * With QUEUE_SHARDS = 1 the prefix is used unchanged: the keys are exactly those of before.
 */

/** The prefix of shard `shard` of `shards` (QUEUE_PREFIX's first hash tag gets `:<shard>`). */
export function shardPrefix(prefix: string, shard: number, shards: number): string {
  if (shards === 1) return prefix;
  const tag = hashTagSpan(prefix);
  // config validation refuses QUEUE_SHARDS > 1 without a tag; this is for direct callers
  if (!tag) throw new Error(`queue prefix ${prefix} has no hash tag to shard`);
  return `${prefix.slice(0, tag.close)}:${shard}${prefix.slice(tag.close)}`;
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
 * The queues each shard holds: every order-keyed queue everywhere; the maintenance queue (the
 * sweeper's one scheduler, no order) only on shard 0, so its tick runs once.
 */
export function queuesOfShard(shard: number): QueueName[] {
  return shard === 0 ? [...QUEUE_NAMES] : QUEUE_NAMES.filter((name) => name !== QUEUE_OF.sweep);
}
