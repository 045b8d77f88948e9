import { fromBeijingTime } from '../../infra/wechat/time.js';
import type { CoreDeps } from '../deps.js';
import { readLiveOrder } from './order-view.js';
import { persistPaid, persistReview, type PaymentRecord } from './order-records.js';
import { Transition } from './transition-codes.js';
import { orderTransitions } from './transitions.js';

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

/**
 * The payment-result path (design §4.5), shared by payment events and by a close that found the
 * order already paid. Idempotent: every step is a compare-and-set or an idempotent write.
 */
export async function applyPayment(deps: CoreDeps, fields: PaymentFields): Promise<PaymentOutcome> {
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
  const live = await readLiveOrder(deps, orderId);
  if (!live) return applyToFinalOrder(deps, orderId, payment);

  const order = orderTransitions(deps, orderId, live.goodsId);
  const code = await order.markPaid(payment.transactionId, payment.totalFee, payment.payTime.getTime());
  const now = (await order.read()) ?? live;
  switch (code) {
    case Transition.Done:
    case Transition.AlreadyDone: {
      const result = await persistPaid(deps.prisma, now, payment);
      await deps.queues.removeCloseJob(orderId);
      if (code === Transition.Done) {
        deps.metrics.ordersPaid.inc();
        log.info({ money: now.money }, 'order paid');
      }
      return result === 'applied' ? 'paid' : 'duplicate';
    }
    case Transition.AmountMismatch: {
      const reason = `total_fee ${payment.totalFee} differs from the order amount ${live.money}`;
      await order.markNeedsReview(reason);
      await persistReview(deps.prisma, { ...now, status: 'NEEDS_REVIEW' }, 'AMOUNT_MISMATCH', reason, payment);
      await deps.queues.removeCloseJob(orderId);
      deps.metrics.ordersToReview.inc({ kind: 'AMOUNT_MISMATCH' });
      log.warn(reason);
      return 'amount-mismatch';
    }
    case Transition.IsClosed:
      return paidAfterClose(deps, now, payment);
    default:
      throw new Error(`markPaid returned unexpected code ${code} for order ${orderId}`);
  }
}

async function paidAfterClose(deps: CoreDeps, order: Parameters<typeof persistReview>[1], payment: PaymentRecord): Promise<PaymentOutcome> {
  // the unit was already put back on sale; it is never sold twice: the buyer must be refunded
  const reason = `payment ${payment.transactionId} of ${payment.totalFee} fen arrived after the order was closed: refund needed`;
  await persistReview(deps.prisma, order, 'PAID_AFTER_CLOSE', reason, payment);
  deps.metrics.ordersToReview.inc({ kind: 'PAID_AFTER_CLOSE' });
  deps.logger.warn({ orderId: order.orderId }, reason);
  return 'paid-after-close';
}

/** The order has left Redis: MySQL knows its final state. */
async function applyToFinalOrder(deps: CoreDeps, orderId: string, payment: PaymentRecord): Promise<PaymentOutcome> {
  const row = await deps.prisma.seckillOrder.findUnique({ where: { id: orderId } });
  if (!row) {
    deps.logger.warn({ orderId }, 'payment for an unknown order: ignored');
    return 'unknown-order';
  }
  if (row.status === 'PAID') return 'duplicate';
  const order = {
    orderId: row.id,
    goodsId: row.goodsId.toString(),
    userId: row.userId,
    money: row.money,
    status: row.status,
    createTime: row.createTime.getTime(),
    deadline: row.deadline.getTime(),
    ...(row.closedAt ? { closedAt: row.closedAt.getTime() } : {}),
    ...(row.closeReason ? { closeReason: row.closeReason } : {}),
  };
  if (row.status === 'CLOSED') return paidAfterClose(deps, order, payment);
  // NEEDS_REVIEW long ago and gone from Redis: record the payment for the person deciding
  await persistReview(deps.prisma, order, 'PAID_AFTER_CLOSE', `payment ${payment.transactionId} arrived for an order in review`, payment);
  return 'paid-after-close';
}
