import type { Redis } from 'ioredis';
import type { KeySpace } from '../../src/infra/redis/keys.js';

/**
 * Helpers for asserting "changed nothing": a snapshot of every key of one goods (its hash-tagged
 * namespace), with values and whether each key expires, taken with SCAN so it also sees keys a
 * test did not expect (an order hash left behind, a buyer marker).
 */

export type KeySnapshot = Record<string, { type: string; value: unknown; expires: boolean }>;

async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const found = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) found.add(key);
  } while (cursor !== '0');
  return [...found].sort();
}

/** Glob pattern matching every key of one goods (`<prefix>:{g:<id>}:*`). */
export function goodsPattern(keys: KeySpace, goodsId: string): string {
  const goodsKey = keys.forGoods(goodsId).goods;
  return `${goodsKey.slice(0, -':goods'.length)}:*`;
}

export async function snapshot(redis: Redis, pattern: string): Promise<KeySnapshot> {
  const out: KeySnapshot = {};
  for (const key of await scanKeys(redis, pattern)) {
    const type = await redis.type(key);
    let value: unknown;
    switch (type) {
      case 'string':
        value = await redis.get(key);
        break;
      case 'hash':
        value = await redis.hgetall(key);
        break;
      case 'zset':
        value = await redis.zrange(key, '0', '-1', 'WITHSCORES');
        break;
      case 'set':
        value = (await redis.smembers(key)).sort();
        break;
      default:
        value = `<${type}>`;
    }
    out[key] = { type, value, expires: (await redis.pttl(key)) > 0 };
  }
  return out;
}

export const snapshotGoods = (redis: Redis, keys: KeySpace, goodsId: string) => snapshot(redis, goodsPattern(keys, goodsId));

export async function countKeys(redis: Redis, pattern: string): Promise<number> {
  return (await scanKeys(redis, pattern)).length;
}

/** CRC16/XMODEM (poly 0x1021, init 0), the checksum Redis Cluster uses for key slots. */
export function crc16(input: string): number {
  let crc = 0;
  for (const byte of Buffer.from(input, 'utf8')) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i += 1) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** The hashed part of a key: the first non-empty `{...}` section, else the whole key (Redis Cluster rule). */
export function hashTag(key: string): string {
  const open = key.indexOf('{');
  if (open === -1) return key;
  const close = key.indexOf('}', open + 1);
  if (close === -1 || close === open + 1) return key;
  return key.slice(open + 1, close);
}

export const keySlot = (key: string): number => crc16(hashTag(key)) % 16384;
