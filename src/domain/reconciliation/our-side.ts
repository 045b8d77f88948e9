import type { CoreDeps } from '../deps.js';
import type { BillRefund } from './bill.js';
import { beijingDayRange } from './bill-date.js';
import type { OurDay, OurRefund } from './compare.js';

/**
 * Our records of one Beijing day, from MySQL: the payment events whose `time_end` (Beijing,
 * yyyyMMddHHmmss) is on it, and the late-payment refunds we asked for that day. MySQL is the
 * record (design §6); a payment still on its way there (outbox) is recognised from Redis before
 * anything is done about it (act.ts).
 *
 * "Asked for that day": our refund's day is its review's creation (the refund job runs right
 * after the review reaches MySQL); only refunds WeChat accepted (PROCESSING or SUCCESS) count.
 */
/** Our successful payment events of one Beijing day (`time_end` is Beijing yyyyMMddHHmmss). */
export const paymentsOfDay = (billDate: string) => ({ timeEnd: { gte: `${billDate}000000`, lte: `${billDate}235959` }, resultCode: 'SUCCESS' });

export async function loadOurDay(deps: Pick<CoreDeps, 'prisma'>, billDate: string, billRefunds: readonly BillRefund[]): Promise<OurDay> {
  const day = beijingDayRange(billDate);
  if (!day) throw new RangeError(`bill date ${billDate} is not a day`);
  const events = await deps.prisma.paymentEvent.findMany({
    where: paymentsOfDay(billDate),
    select: { transactionId: true, orderId: true, totalFee: true },
  });
  const refundSelect = { orderId: true, outRefundNo: true, refundStatus: true, order: { select: { money: true, payments: { select: { totalFee: true }, orderBy: { receivedAt: 'desc' }, take: 1 } } } } as const;
  const refundOf = (item: { orderId: string; outRefundNo: string | null; order: { money: number; payments: { totalFee: number }[] } }): OurRefund => ({
    outRefundNo: item.outRefundNo ?? '',
    orderId: item.orderId,
    // our late-payment refunds return the whole payment: the latest one (an order whose
    // wrong-amount payment was settled before can have two)
    refundFee: item.order.payments[0]?.totalFee ?? item.order.money,
  });
  const asked = await deps.prisma.reviewItem.findMany({
    where: { outRefundNo: { not: null }, createdAt: { gte: day.start, lt: day.end }, OR: [{ refundStatus: 'SUCCESS' }, { refundStatus: 'PROCESSING' }] },
    select: refundSelect,
  });
  const named = billRefunds.length === 0 ? [] : await deps.prisma.reviewItem.findMany({ where: { outRefundNo: { in: billRefunds.map((r) => r.outRefundNo) } }, select: refundSelect });
  return {
    payments: events,
    refunds: asked.map(refundOf),
    knownRefunds: new Map(named.map((item) => [item.outRefundNo ?? '', refundOf(item)])),
  };
}
