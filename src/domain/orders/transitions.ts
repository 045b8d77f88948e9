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

/** What a close job learns from its first step (beginClose-2.lua). */
export interface CloseStart {
  code: Transition;
  /** how long closeorder must still wait, and why ('none': call it now) */
  wait: { waitMs: number; reason: 'none' | 'pay-in-flight' | 'wechat-order-too-young' };
  /** the order's buyer ('' for an order that is not CLOSING) */
  userId: string;
}

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
    /** The pay side of the pay/close lease (design §7): UNPAID only; endPay when the call is over. */
    beginPay: (leaseMs: number) => deps.redis.beginPay(orderKey, leaseMs),
    endPay: (reachedWeChat: boolean) => deps.redis.endPay(orderKey, reachedWeChat ? '1' : '0'),
    /** UNPAID (or, reopened, NEEDS_REVIEW) → CLOSING; the code only (a cancel, a review retry). */
    beginClose: async (reason: CloseReason, reopenReview = false): Promise<Transition> => (await deps.redis.beginClose(orderKey, k.held, reason, reopenReview ? '1' : '0', 0))[0],
    /**
     * The close job's first step: beginClose, and in the same script what comes next — how long
     * it must still wait before closeorder (a /pay in flight, WeChat's 5-minute rule) and the buyer.
     */
    async beginCloseAndCheck(reason: CloseReason, minAgeMs: number): Promise<CloseStart> {
      const [code, waitMs, why, userId] = await deps.redis.beginClose(orderKey, k.held, reason, '0', minAgeMs);
      return { code, wait: { waitMs, reason: why === 1 ? 'pay-in-flight' : why === 2 ? 'wechat-order-too-young' : 'none' }, userId };
    },
    /** CLOSING → CLOSED with the unit back on sale; the code only. */
    async closeWithRestock(userId?: string): Promise<Transition> {
      return (await this.closeWithRestockMeasured(userId))[0];
    },
    /** closeWithRestock with how late the close was and why (for the metrics); `userId` if known. */
    async closeWithRestockMeasured(userId?: string): Promise<[code: Transition, lateMs: number, closeReason: string]> {
      const buyer = userId === undefined ? await this.buyerKey() : k.buyer(userId);
      return deps.redis.closeWithRestock(orderKey, k.stock, k.held, buyer, k.outbox, deps.keys.restockChannel);
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
