import { describe, expect, it } from 'vitest';
import { queuesOfShard, shardOf, shardPrefix, slotOf } from './shards.js';

describe('queue shards', () => {
  it('one shard: the prefix unchanged, every order on shard 0', () => {
    expect(shardPrefix('{seckill}', 0, 1)).toBe('{seckill}');
    expect(shardPrefix('seckill', 0, 1)).toBe('seckill');
    expect(shardOf('1234567890123456789012', 1)).toBe(0);
  });

  it('n shards: the first hash tag gets :<shard>[.<k>], its slot in the middle of the n-th of the 16384', () => {
    expect([0, 1, 2].map((n) => shardPrefix('{seckill}', n, 3))).toEqual(['{seckill:0.4}', '{seckill:1.2}', '{seckill:2.1}']);
    expect(slotOf('seckill:1.2')).toBe(8076); // as Redis computes it (checked against CLUSTER KEYSLOT in test/cluster)
    for (const shards of [2, 3, 5, 6, 12, 64]) {
      const width = 16_384 / shards;
      for (let n = 0; n < shards; n += 1) {
        const prefix = shardPrefix('bull:{sk}:x', n, shards);
        expect(prefix).toMatch(new RegExp(`^bull:\\{sk:${n}(\\.\\d+)?\\}:x$`));
        const slot = slotOf(prefix.slice(prefix.indexOf('{') + 1, prefix.indexOf('}')));
        expect(slot).toBeGreaterThanOrEqual(n * width + width / 4);
        expect(slot).toBeLessThan(n * width + (3 * width) / 4);
      }
    }
    expect(() => shardPrefix('seckill', 1, 2)).toThrow(/no hash tag/);
  });

  it("an order's shard follows from its id alone, and ids spread evenly", () => {
    expect(shardOf('10000000123456789012345', 3)).toBe(shardOf('10000000123456789012345', 3));
    const counts = [0, 0, 0, 0];
    // ids as the generator makes them: goods id + clock/sequence digits
    for (let i = 0; i < 40_000; i += 1) counts[shardOf(`17${String(0x1234567890n + BigInt(i) * 4096n).padStart(19, '0')}`, 4)]! += 1;
    for (const c of counts) expect(c).toBeGreaterThan(9_000);
  });

  it('the maintenance queue (one sweeper scheduler) only on shard 0', () => {
    expect(queuesOfShard(0)).toContain('maintenance');
    expect(queuesOfShard(1)).not.toContain('maintenance');
    expect(queuesOfShard(1)).toContain('order-timeout');
  });
});
