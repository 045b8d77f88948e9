import type { CoreDeps } from '../deps.js';
import { type LiveOrder, parseLiveOrder } from './order-view.js';
import type { CloseReason, Transition } from './transition-codes.js';

/**
 * Typed calls of the Lua transitions for one order. Keeps key construction in one place so
 * handlers read as the design's table. Every transition that makes an order final also appends
 * it to the goods' outbox (design §6); the persister takes it to MySQL from there.
 */

/** Review kinds a transition can record on an order (the persister writes one review item each). */
export type ReviewKind = 'CLOSE_FAILED' | 'AMOUNT_MISMATCH' | 'PAID_AFTER_CLOSE' | 'UNKNOWN_ORDER';

/** A payment event to record with a transition: its transaction id and the fields as received. */
export interface RecordedPayment {
  transactionId: string;
  totalFee: number;
  payTimeMs: number;
  fields: Readonly<Record<string, string>>;
}

export function orderTransitions(deps: Pick<CoreDeps, 'redis' | 'keys'>, orderId: string, goodsId: string) {
  const k = deps.keys.forGoods(goodsId);
  const orderKey = k.order(orderId);
  return {
    async read(): Promise<LiveOrder | undefined> {
      return parseLiveOrder(await deps.redis.hgetall(orderKey));
    },
    /** The buyer of the order (never changes once the order exists). */
    userId: async (): Promise<string> => (await deps.redis.hget(orderKey, 'userId')) ?? '',
    async buyerKey(): Promise<string> {
      return k.buyer(await this.userId());
    },
    /** The pay side of the pay/close lease (design §7): UNPAID only; endPay when the call is over. */
    beginPay: (leaseMs: number) => deps.redis.beginPay(orderKey, leaseMs),
    endPay: (reachedWeChat: boolean) => deps.redis.endPay(orderKey, reachedWeChat ? '1' : '0'),
    /** ms the close must still wait (a /pay in flight, WeChat's 5-minute rule), and why. */
    async closeDelay(minAgeMs: number): Promise<{ waitMs: number; reason: 'none' | 'pay-in-flight' | 'wechat-order-too-young' }> {
      const [waitMs, reason] = await deps.redis.getCloseDelay(orderKey, minAgeMs);
      return { waitMs, reason: reason === 1 ? 'pay-in-flight' : reason === 2 ? 'wechat-order-too-young' : 'none' };
    },
    beginClose: (reason: CloseReason, reopenReview = false) => deps.redis.beginClose(orderKey, k.held, reason, reopenReview ? '1' : '0'),
    /** `userId` when the caller has already read it (saves a round trip on the close path). */
    async closeWithRestock(userId?: string): Promise<Transition> {
      const buyer = userId === undefined ? await this.buyerKey() : k.buyer(userId);
      return deps.redis.closeWithRestock(orderKey, k.stock, k.held, buyer, k.outbox, deps.keys.restockChannel);
    },
    /** What a close that just happened is measured by (one HMGET, not the whole hash). */
    async closedFigures(): Promise<{ closeReason: string; closedAt: number; deadline: number } | undefined> {
      const [closeReason, closedAt, deadline] = await deps.redis.hmget(orderKey, 'closeReason', 'closedAt', 'deadline');
      if (closedAt == null || deadline == null) return undefined;
      return { closeReason: closeReason ?? 'TIMEOUT', closedAt: Number(closedAt), deadline: Number(deadline) };
    },
    /**
     * `userId` when the caller has already read the order (saves a round trip on the payment
     * path); `lateReason` is recorded as a PAID_AFTER_CLOSE review if the order is CLOSED.
     */
    async markPaid(payment: RecordedPayment, lateReason: string, userId?: string): Promise<Transition> {
      const buyer = userId === undefined ? await this.buyerKey() : k.buyer(userId);
      return deps.redis.markPaid(
        orderKey, k.held, buyer, k.outbox, k.paidPending,
        payment.transactionId, payment.totalFee, payment.payTimeMs, JSON.stringify(payment.fields), lateReason.slice(0, 1000),
      );
    },
    markNeedsReview: (kind: Exclude<ReviewKind, 'PAID_AFTER_CLOSE'>, reason: string, payment?: RecordedPayment) =>
      deps.redis.markNeedsReview(
        orderKey, k.held, k.outbox,
        kind, reason.slice(0, 500), payment?.transactionId ?? '', payment ? JSON.stringify(payment.fields) : '',
      ),
  };
}
