import type { CoreDeps } from '../deps.js';

/** How far MySQL is behind Redis: the outboxes' depth and the age of their oldest entry. */
export interface OutboxLag {
  depth: number;
  oldestAgeMs: number;
  /** goods with entries waiting, deepest first */
  goods: { goodsId: string; depth: number; oldestAgeMs: number }[];
}

/** One pipelined round trip over every live goods' outbox (ZCARD + the oldest entry). */
export async function readOutboxLag(deps: Pick<CoreDeps, 'redis' | 'keys'>, now = Date.now()): Promise<OutboxLag> {
  const goodsIds = await deps.redis.smembers(deps.keys.liveGoods);
  const lag: OutboxLag = { depth: 0, oldestAgeMs: 0, goods: [] };
  if (goodsIds.length === 0) return lag;
  const pipeline = deps.redis.pipeline();
  for (const goodsId of goodsIds) {
    const outbox = deps.keys.forGoods(goodsId).outbox;
    pipeline.zcard(outbox);
    pipeline.zrange(outbox, '0', '0', 'WITHSCORES');
  }
  const replies = (await pipeline.exec()) ?? [];
  goodsIds.forEach((goodsId, i) => {
    const [depthErr, depth] = replies[2 * i] ?? [];
    const [oldestErr, oldest] = replies[2 * i + 1] ?? [];
    if (depthErr) throw depthErr;
    if (oldestErr) throw oldestErr;
    const count = Number(depth ?? 0);
    const since = Array.isArray(oldest) && oldest.length >= 2 ? Number(oldest[1]) : now;
    const ageMs = count > 0 ? Math.max(0, now - since) : 0;
    lag.goods.push({ goodsId, depth: count, oldestAgeMs: ageMs });
    lag.depth += count;
    lag.oldestAgeMs = Math.max(lag.oldestAgeMs, ageMs);
  });
  lag.goods.sort((a, b) => b.depth - a.depth);
  return lag;
}
