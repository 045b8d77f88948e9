import type { Redis } from 'ioredis';

/** Redis memory readings for `npm run bench:memory`. */

/** `INFO memory` used_memory: what the allocator holds for data, overheads and buffers. */
export async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  const value = /^used_memory:(\d+)/m.exec(info)?.[1];
  if (value === undefined) throw new Error('INFO memory has no used_memory');
  return Number(value);
}

/**
 * Bytes of the main keyspace's bucket array: 8 per slot, and Redis sizes it to the smallest power
 * of two above the key count (twice that while it rehashes, briefly). MEMORY USAGE gives each key
 * its entry but no share of this array. (MEMORY STATS' overhead.hashtable.main mixes in entries
 * and value headers, in proportions that change between Redis versions.)
 */
export async function mainDictSlotBytes(redis: Redis): Promise<number> {
  const keys = await redis.dbsize();
  return keys === 0 ? 0 : 8 * 2 ** Math.ceil(Math.log2(keys + 1));
}

/**
 * `MEMORY USAGE key SAMPLES 0` of each key, summed: the key name, its main-dict entry and its
 * whole value (SAMPLES 0 walks every element of a zset or list, instead of estimating from 5).
 */
export async function memoryOf(redis: Redis, keys: string[]): Promise<number> {
  let total = 0;
  for (let i = 0; i < keys.length; i += 500) {
    const pipeline = redis.pipeline();
    for (const key of keys.slice(i, i + 500)) pipeline.call('MEMORY', 'USAGE', key, 'SAMPLES', '0');
    for (const [err, bytes] of (await pipeline.exec()) ?? []) {
      if (err) throw err;
      total += Number(bytes ?? 0); // a missing key answers nil: it costs nothing
    }
  }
  return total;
}

/** The mean of memoryOf over keys of one kind (samples of many equal keys). */
export async function meanMemoryOf(redis: Redis, keys: string[]): Promise<number> {
  return keys.length === 0 ? 0 : (await memoryOf(redis, keys)) / keys.length;
}

/** Encodings seen among the keys (`listpack`, `hashtable`, `skiplist`, …) with their counts. */
export async function encodings(redis: Redis, keys: string[]): Promise<string> {
  const pipeline = redis.pipeline();
  for (const key of keys) pipeline.object('ENCODING', key);
  const counts = new Map<string, number>();
  for (const [, encoding] of (await pipeline.exec()) ?? []) {
    const name = typeof encoding === 'string' ? encoding : 'missing';
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return [...counts].map(([name, n]) => (counts.size === 1 ? name : `${name} ×${n}`)).join(', ');
}

/** Indices 0..n-1 spread evenly, at most `count` of them. */
export function spread(n: number, count: number): number[] {
  const step = Math.max(1, Math.floor(n / count));
  const picked: number[] = [];
  for (let i = 0; i < n && picked.length < count; i += step) picked.push(i);
  return picked;
}
