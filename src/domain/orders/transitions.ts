import type { CoreDeps } from '../deps.js';
import { type LiveOrder, parseLiveOrder } from './order-view.js';
import type { CloseReason, Transition } from './transition-codes.js';

/**
 * Typed calls of the Lua transitions for one order. Keeps key construction in one place so
 * handlers read as the design's table.
 */

/** Final orders stay in Redis a day after they are persisted (idempotency, fast reads). */
const FINAL_TTL_SECONDS = 24 * 3600;

export function orderTransitions(deps: Pick<CoreDeps, 'redis' | 'keys'>, orderId: string, goodsId: string) {
  const k = deps.keys.forGoods(goodsId);
  const orderKey = k.order(orderId);
  return {
    async read(): Promise<LiveOrder | undefined> {
      return parseLiveOrder(await deps.redis.hgetall(orderKey));
    },
    async buyerKey(): Promise<string> {
      const userId = await deps.redis.hget(orderKey, 'userId');
      return k.buyer(userId ?? '');
    },
    beginClose: (reason: CloseReason, reopenReview = false) => deps.redis.beginClose(orderKey, k.held, reason, reopenReview ? '1' : '0'),
    async closeWithRestock(): Promise<Transition> {
      return deps.redis.closeWithRestock(orderKey, k.stock, k.held, await this.buyerKey(), FINAL_TTL_SECONDS);
    },
    async markPaid(transactionId: string, totalFee: number, payTimeMs: number): Promise<Transition> {
      return deps.redis.markPaid(orderKey, k.held, await this.buyerKey(), transactionId, totalFee, payTimeMs, FINAL_TTL_SECONDS);
    },
    markNeedsReview: (reason: string) => deps.redis.markNeedsReview(orderKey, k.held, reason.slice(0, 500)),
  };
}
