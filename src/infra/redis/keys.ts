/**
 * Redis key layout. Everything about one goods shares the hash tag `{g:<goodsId>}` so each Lua
 * transition touches a single Cluster slot; different goods spread over the cluster.
 */
export interface GoodsKeys {
  goods: string;
  stock: string;
  /** zset orderId -> deadline ms (UNPAID/CLOSING) or +inf (NEEDS_REVIEW): every order holding a unit */
  held: string;
  /** list of `orderId:deadlineMs` timer requests queued by reserveOrder for the timer pump */
  timers: string;
  /**
   * zset orderId -> ms it started waiting: orders whose final state (CLOSED, PAID,
   * NEEDS_REVIEW, a payment after close) MySQL does not have yet. Appended by the transition
   * scripts, drained by the persister (src/domain/outbox), design §6.
   */
  outbox: string;
  /** hash orderId -> reason: outbox entries the persister could not read, set aside for a person */
  outboxRejected: string;
  /** set of orderIds PAID in Redis whose sale MySQL's stock_count does not count yet */
  paidPending: string;
  /** counter bumped whenever an ack takes paid orders out of paidPending (loadGoods checks it) */
  soldAcks: string;
  /** the persister's lease on this goods' outbox (holder id, expires) */
  persisterLease: string;
  /** where the sweeper's walk over this goods' overdue orders goes on next time (an offset) */
  sweepCursor: string;
  /** prefix of the order hashes (for scripts handed many order ids) */
  orderPrefix: string;
  order(orderId: string): string;
  buyer(userId: string): string;
  /** short-lived marker: a buyer's GET asked WeChat about this order recently */
  lookup(orderId: string): string;
}

export interface KeySpace {
  forGoods(goodsId: string): GoodsKeys;
  /**
   * set of goods ids whose sale is live or still has orders in flight (the sweeper, the
   * persister and the timer pump's safety walk visit it); a goods leaves it once its sale is
   * over and nothing is in flight (src/domain/goods/retire.ts)
   */
  liveGoods: string;
  /**
   * set of goods ids whose timers list has requests waiting: a grab that finds the list empty
   * adds its goods, the timer pump takes goods out before draining them, so a pump pass visits
   * only goods with work (src/workers/timer-pump.ts)
   */
  timerGoods: string;
  /** counter that hands out order-id node numbers */
  nodeSequence: string;
  /**
   * pub/sub channel: a goods id is published when its stock rises from 0 (a unit back on sale
   * after it sold out), so API processes stop answering SOLD_OUT from memory
   */
  restockChannel: string;
}

export function keySpace(prefix: string): KeySpace {
  return {
    forGoods(goodsId) {
      const base = `${prefix}:{g:${goodsId}}`;
      return {
        goods: `${base}:goods`,
        stock: `${base}:stock`,
        held: `${base}:held`,
        timers: `${base}:timers`,
        outbox: `${base}:outbox`,
        outboxRejected: `${base}:outbox-rejected`,
        paidPending: `${base}:paid-pending`,
        soldAcks: `${base}:sold-acks`,
        persisterLease: `${base}:persister-lease`,
        sweepCursor: `${base}:sweep-cursor`,
        orderPrefix: `${base}:order:`,
        order: (orderId) => `${base}:order:${orderId}`,
        buyer: (userId) => `${base}:buyer:${userId}`,
        lookup: (orderId) => `${base}:lookup:${orderId}`,
      };
    },
    liveGoods: `${prefix}:live-goods`,
    timerGoods: `${prefix}:timer-goods`,
    nodeSequence: `${prefix}:order-id-node`,
    restockChannel: `${prefix}:restock`,
  };
}
