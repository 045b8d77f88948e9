import { fromBeijingTime } from '../../infra/wechat/time.js';
import type { CoreDeps } from '../deps.js';
import { type LiveOrder, readLiveOrder, readLiveOrderForPayment } from './order-view.js';
import { recordPaymentForFinalOrder, recordUnknownOrderPayment, type PaymentRecord } from './order-records.js';
import { goodsIdOfOrder } from './order-id.js';
import { Transition } from './transition-codes.js';
import { type RecordedPayment, orderTransitions } from './transitions.js';
import { requestLateRefund } from '../payments/refund.js';
import { relistGoods } from '../goods/retire.js';

export type PaymentOutcome = 'paid' | 'duplicate' | 'amount-mismatch' | 'paid-after-close' | 'failed-payment' | 'unknown-order';

/** A payment event's fields, already signature-checked by whoever received them. */
export type PaymentFields = Readonly<Record<string, string>>;

export class InvalidPaymentEventError extends Error {
  constructor(reason: string) {
    super(`invalid payment event: ${reason}`);
    this.name = 'InvalidPaymentEventError';
  }
}

function paymentRecord(fields: PaymentFields): PaymentRecord {
  const transactionId = fields.transaction_id;
  const totalFee = Number(fields.total_fee);
  if (!fields.out_trade_no) throw new InvalidPaymentEventError('out_trade_no missing');
  if (!transactionId || !/^\d{1,32}$/.test(transactionId)) throw new InvalidPaymentEventError('transaction_id missing or malformed');
  if (!/^\d{1,15}$/.test(fields.total_fee ?? '')) throw new InvalidPaymentEventError('total_fee missing or not an integer');
  return {
    transactionId,
    totalFee,
    resultCode: fields.result_code ?? '',
    timeEnd: fields.time_end,
    payTime: (fields.time_end && fromBeijingTime(fields.time_end)) || new Date(),
    fields: { ...fields },
  };
}

/** What a transition records of a payment (the persister writes it as the payment event). */
const recorded = (p: PaymentRecord): RecordedPayment => ({ transactionId: p.transactionId, totalFee: p.totalFee, payTimeMs: p.payTime.getTime(), fields: p.fields });

/**
 * The payment-result path (design §4.5, §6), shared by payment events and by a close that found
 * the order already paid. Redis only (one compare-and-set; the outbox takes the result to MySQL),
 * so it is idempotent and fast. Only a payment for an order that has left Redis reads MySQL.
 */
export async function applyPayment(deps: CoreDeps, fields: PaymentFields, again = true): Promise<PaymentOutcome> {
  const orderId = fields.out_trade_no ?? '';
  const log = deps.logger.child({ orderId, transactionId: fields.transaction_id });

  if (fields.result_code !== 'SUCCESS') {
    // the buyer's payment failed: close the order through WeChat's close, as the original listener did
    const live = await readLiveOrder(deps, orderId);
    if (!live) return 'unknown-order';
    if (live.status === 'UNPAID' || live.status === 'CLOSING') await deps.queues.closeNow({ orderId, goodsId: live.goodsId });
    log.info({ resultCode: fields.result_code }, 'failed payment reported: closing the order');
    return 'failed-payment';
  }

  const payment = paymentRecord(fields);
  const live = await readLiveOrderForPayment(deps, orderId);
  if (!live) return applyToFinalOrder(deps, orderId, payment);

  const order = orderTransitions(deps, orderId, live.goodsId);
  // a payment after close reaches the outbox of a sale that may be over and retired: back in
  // live-goods first, so the persister drains it (retire.ts)
  if (live.status === 'CLOSED') await relistGoods(deps, live.goodsId);
  const code = await order.markPaid(recorded(payment), lateReason(payment), live.userId);
  switch (code) {
    case Transition.Done:
    case Transition.AlreadyDone:
      await deps.queues.removeCloseJob(orderId);
      if (code === Transition.Done) {
        deps.metrics.ordersPaid.inc();
        log.info({ money: live.money }, 'order paid');
        return 'paid';
      }
      return 'duplicate';
    case Transition.AmountMismatch:
      if (await recordAmountMismatch(deps, live, payment)) return 'amount-mismatch';
      // the order became final between the two steps (a person resolved its review): once more,
      // now as a payment for a final order
      if (again) return applyPayment(deps, fields, false);
      throw new Error(`order ${orderId} changed twice while its wrong-amount payment was recorded; the job retries`);
    case Transition.IsClosed:
      // recorded on the order with a PAID_AFTER_CLOSE review by markPaid itself; listed again
      // after the append too (retire.ts: a retirement may have raced the first relist)
      await relistGoods(deps, live.goodsId);
      deps.metrics.ordersToReview.inc({ kind: 'PAID_AFTER_CLOSE' });
      log.warn(lateReason(payment));
      await requestLateRefund(deps, { orderId, transactionId: payment.transactionId, totalFee: payment.totalFee });
      return 'paid-after-close';
    case Transition.PaymentKnown:
      // this payment was recorded on the order before (a copy of it, or this job again after a
      // crash between markPaid and the refund request): the refund is asked for again, which
      // is idempotent (out_refund_no RF<orderId>), so a crash there cannot skip it
      if (live.status === 'CLOSED') await requestLateRefund(deps, { orderId, transactionId: payment.transactionId, totalFee: payment.totalFee });
      return 'duplicate';
    default:
      throw new Error(`markPaid returned unexpected code ${code} for order ${orderId}`);
  }
}

const lateReason = (payment: PaymentRecord) =>
  `payment ${payment.transactionId} of ${payment.totalFee} fen arrived after the order was closed: refund needed`;

/**
 * The notify endpoint's amount check (WeChat's rule: `total_fee`, not `cash_fee`, must equal the
 * order's amount). For an order still waiting for its payment, a mismatch is recorded right away,
 * exactly as the payment job would record it (NEEDS_REVIEW + an AMOUNT_MISMATCH review; nothing
 * paid, no stock moved), and the reason is returned so the notification can be refused. Anything
 * else (unknown order, order already final, failed payment) returns undefined: the payment job's
 * own rules apply to it.
 */
export async function refuseWrongAmount(deps: CoreDeps, fields: PaymentFields): Promise<string | undefined> {
  if (fields.result_code !== 'SUCCESS') return undefined;
  const live = await readLiveOrderForPayment(deps, fields.out_trade_no ?? '');
  if (!live || live.status === 'PAID' || live.status === 'CLOSED') return undefined;
  const payment = paymentRecord(fields);
  if (payment.totalFee === live.money) return undefined;
  // undefined if the order became final meanwhile: the event is then published, and the payment
  // job records it as a payment for a final order (never acknowledged unrecorded)
  return recordAmountMismatch(deps, live, payment);
}

/**
 * UNPAID | CLOSING | NEEDS_REVIEW → NEEDS_REVIEW with an AMOUNT_MISMATCH review and the payment
 * recorded on the order: the buyer paid a different amount, a person must refund or settle it;
 * the unit stays held. Repeats of the same notification change nothing. Returns the reason, or
 * undefined if the order had become PAID or CLOSED (or vanished) meanwhile: nothing recorded.
 */
async function recordAmountMismatch(deps: CoreDeps, live: LiveOrder, payment: PaymentRecord): Promise<string | undefined> {
  const reason = `total_fee ${payment.totalFee} differs from the order amount ${live.money}`;
  const code = await orderTransitions(deps, live.orderId, live.goodsId).markNeedsReview('AMOUNT_MISMATCH', reason, recorded(payment));
  if (code !== Transition.Done && code !== Transition.AlreadyDone) return undefined;
  await deps.queues.removeCloseJob(live.orderId);
  if (code === Transition.Done) deps.metrics.ordersToReview.inc({ kind: 'AMOUNT_MISMATCH' });
  deps.logger.warn({ orderId: live.orderId, transactionId: payment.transactionId, code }, reason);
  return reason;
}

/**
 * The order has left Redis (a day after it was persisted): MySQL knows its final state. The one
 * place the payment path writes MySQL itself; the job retries it if MySQL is down.
 */
async function applyToFinalOrder(deps: CoreDeps, orderId: string, payment: PaymentRecord): Promise<PaymentOutcome> {
  const row = await deps.prisma.seckillOrder.findUnique({ where: { id: orderId } });
  if (!row) return recordUnknownOrder(deps, orderId, payment);
  if (row.status === 'PAID') return 'duplicate';
  const reason = row.status === 'CLOSED' ? lateReason(payment) : `payment ${payment.transactionId} arrived for an order in review`;
  await recordPaymentForFinalOrder(deps.prisma, orderId, reason, payment);
  if (row.status === 'CLOSED') await requestLateRefund(deps, { orderId, transactionId: payment.transactionId, totalFee: payment.totalFee });
  deps.metrics.ordersToReview.inc({ kind: 'PAID_AFTER_CLOSE' });
  deps.logger.warn({ orderId }, reason);
  return 'paid-after-close';
}

/**
 * design §7: a signed payment for an order we do not know (Redis lost it before it was final)
 * becomes an UNKNOWN_ORDER review with the payment stored; a person refunds or honours it.
 */
async function recordUnknownOrder(deps: CoreDeps, orderId: string, payment: PaymentRecord): Promise<PaymentOutcome> {
  const reason = `payment ${payment.transactionId} of ${payment.totalFee} fen for order ${orderId}, which is unknown here (lost from Redis?): refund or honour it`;
  const goodsId = goodsIdOfOrder(orderId);
  const recorded = goodsId !== undefined && (await recordUnknownOrderPayment(deps.prisma, orderId, goodsId, reason, payment));
  if (recorded) {
    deps.metrics.ordersToReview.inc({ kind: 'UNKNOWN_ORDER' });
    deps.logger.error({ orderId, transactionId: payment.transactionId }, reason);
  } else {
    // not one of our order ids at all (no such goods): nothing to attach a review to
    deps.metrics.ordersToReview.inc({ kind: 'UNMATCHED' });
    deps.logger.error({ orderId, transactionId: payment.transactionId, fields: payment.fields }, 'signed payment for an out_trade_no that is not one of our orders: not applied');
  }
  return 'unknown-order';
}

