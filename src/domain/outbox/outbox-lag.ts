import type { CoreDeps } from '../deps.js';

/** How far MySQL is behind Redis: the outboxes' depth and the age of their oldest entry. */
export interface OutboxLag {
  depth: number;
  oldestAgeMs: number;
  /** goods with entries waiting, deepest first */
  goods: { goodsId: string; depth: number; oldestAgeMs: number }[];
}

/**
 * Every live goods' outbox (ZCARD + the oldest entry), sent together by auto-pipelining: one
 * round trip per Redis, or per master of a cluster (an explicit pipeline would span the goods'
 * slots, which a cluster refuses).
 */
export async function readOutboxLag(deps: Pick<CoreDeps, 'redis' | 'keys'>, now = Date.now()): Promise<OutboxLag> {
  const goodsIds = await deps.redis.smembers(deps.keys.liveGoods);
  const lag: OutboxLag = { depth: 0, oldestAgeMs: 0, goods: [] };
  if (goodsIds.length === 0) return lag;
  const replies = await Promise.all(
    goodsIds.map((goodsId) => {
      const outbox = deps.keys.forGoods(goodsId).outbox;
      return Promise.all([deps.redis.zcard(outbox), deps.redis.zrange(outbox, '0', '0', 'WITHSCORES')]);
    }),
  );
  goodsIds.forEach((goodsId, i) => {
    const [depth, oldest] = replies[i] ?? [0, []];
    const count = Number(depth ?? 0);
    const since = oldest.length >= 2 ? Number(oldest[1]) : now;
    const ageMs = count > 0 ? Math.max(0, now - since) : 0;
    lag.goods.push({ goodsId, depth: count, oldestAgeMs: ageMs });
    lag.depth += count;
    lag.oldestAgeMs = Math.max(lag.oldestAgeMs, ageMs);
  });
  lag.goods.sort((a, b) => b.depth - a.depth);
  return lag;
}
