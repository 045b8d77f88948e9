import type { CoreDeps } from '../deps.js';
import { PERSISTED_ORDER_TTL_SECONDS } from '../outbox/drain-batch.js';

/**
 * The end of a goods' life in Redis (design §9, key lifecycle). Without it `live-goods` only
 * grows: every sweep, persister poll and timer-pump walk visits every goods ever sold, and the
 * goods, stock and counters of ended sales stay in Redis for ever.
 *
 * A goods is retired once its sale has ended and nothing of it is in flight (no order holding a
 * unit, no timer request, nothing waiting for MySQL): its keys get RETIRED_KEYS_TTL_SECONDS to
 * live and it leaves `live-goods` (retireGoods.lua has the details). Its order hashes expire on
 * their own a day after MySQL has them.
 *
 * The sweeper retires; two rare paths bring a retired goods back: a payment that arrives after
 * its order was closed, and a person resolving a review of a CLOSED/PAID order. Both append the
 * order to the goods' outbox, which the persister only drains for goods in `live-goods`, so they
 * call relistGoods before and after their transition.
 */

/** A day, like a persisted order: a buyer's late GET still finds the sale's fields meanwhile. */
export const RETIRED_KEYS_TTL_SECONDS = PERSISTED_ORDER_TTL_SECONDS;

export type Retirement = 'retired' | 'on-sale' | 'in-flight';

type Deps = Pick<CoreDeps, 'redis' | 'keys' | 'logger' | 'metrics'>;

/** Retire one goods if its sale is over and nothing of it is in flight. */
export async function retireIfOver(deps: Deps, goodsId: string): Promise<Retirement> {
  const k = deps.keys.forGoods(goodsId);
  const code = await deps.redis.retireGoods(
    k.goods, k.stock, k.held, k.timers, k.outbox, k.paidPending, k.soldAcks, k.sweepCursor,
    RETIRED_KEYS_TTL_SECONDS,
  );
  if (code === 0) return 'on-sale';
  if (code < 0) return 'in-flight';
  // a crash here leaves the goods listed with expiring keys: the next sweep answers 2 and removes it
  await deps.redis.srem(deps.keys.liveGoods, goodsId);
  // A late payment may have appended to the outbox between the script and the SREM: its writer's
  // relist (before its transition) found the goods still listed and did nothing. Look again now;
  // anything written after this look is covered by the writer's relist after its transition.
  const [outbox, paidPending] = await Promise.all([deps.redis.zcard(k.outbox), deps.redis.scard(k.paidPending)]);
  if (outbox > 0 || paidPending > 0) {
    await relistGoods(deps, goodsId);
    return 'in-flight';
  }
  deps.metrics.goodsRetired.inc();
  deps.logger.info({ goodsId, keysExpireInS: code === 1 ? RETIRED_KEYS_TTL_SECONDS : 0 }, 'sale over and settled: goods retired from the live sale');
  return 'retired';
}

/**
 * Put a goods back in `live-goods` around news for one of its final orders written to its outbox
 * (a no-op for a goods that is still live). Writers call it before the transition (so the
 * persister sees the entry at once) and again after it (a retirement may have been between the
 * script's check and its SREM when the first call ran: retireIfOver looks again after its SREM,
 * and this second call covers an append after that look).
 */
export async function relistGoods(deps: Pick<CoreDeps, 'redis' | 'keys'>, goodsId: string): Promise<void> {
  await deps.redis.sadd(deps.keys.liveGoods, goodsId);
}
