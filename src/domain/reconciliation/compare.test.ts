import { describe, expect, it } from 'vitest';
import type { Bill, BillPayment, BillRefund } from './bill.js';
import { compareDay, type OurDay, type OurRefund } from './compare.js';

const at = new Date('2026-11-30T04:00:00Z');
const pay = (tx: string, order: string, fee: number): BillPayment => ({ kind: 'payment', line: 2, tradeTime: at, transactionId: tx, outTradeNo: order, totalFee: fee, settlementFee: fee, tradeType: 'NATIVE', goodsName: 'g' });
const refund = (no: string, order: string, fee: number, status = 'SUCCESS'): BillRefund => ({ kind: 'refund', line: 3, tradeTime: at, transactionId: '1', outTradeNo: order, refundId: '5', outRefundNo: no, refundFee: fee, settlementRefundFee: fee, refundStatus: status });
const bill = (...rows: (BillPayment | BillRefund)[]): Bill => ({ billDate: '20261130', rows, summary: { count: rows.length, settlementFee: 0, refundFee: 0, couponRefundFee: 0, orderFee: 0, appliedRefundFee: 0, serviceFee: '0' } });
const ours = (o: Partial<OurDay> & { known?: OurRefund[] } = {}): OurDay => ({ payments: o.payments ?? [], refunds: o.refunds ?? [], knownRefunds: new Map((o.known ?? []).map((r) => [r.outRefundNo, r])) });

describe('comparing a day', () => {
  it('a clean day: nothing missing, nothing to review, the same totals both sides', () => {
    const r = { outRefundNo: 'RF3', orderId: '3', refundFee: 50 };
    const c = compareDay(bill(pay('t1', '1', 100), pay('t3', '3', 50), refund('RF3', '3', 50)), ours({ payments: [{ transactionId: 't1', orderId: '1', totalFee: 100 }, { transactionId: 't3', orderId: '3', totalFee: 50 }], known: [r] }));
    expect(c.missing).toEqual([]);
    expect(c.reviews).toEqual([]);
    expect(c.bill).toEqual({ payments: { count: 2, fee: 150 }, refunds: { count: 1, fee: 50 } });
    expect(c.ours).toEqual(c.bill);
  });

  it('both directions: missing with us, missing in the bill', () => {
    const c = compareDay(bill(pay('t1', '1', 100)), ours({ payments: [{ transactionId: 't2', orderId: '2', totalFee: 70 }] }));
    expect(c.missing.map((m) => m.transactionId)).toEqual(['t1']);
    expect(c.reviews).toMatchObject([{ kind: 'NOT_IN_BILL', ref: 't2', orderId: '2', ourFee: 70 }]);
  });

  it('amounts that differ, for payments and refunds', () => {
    const r = { outRefundNo: 'RF1', orderId: '1', refundFee: 100 };
    const c = compareDay(bill(pay('t1', '1', 101), refund('RF1', '1', 99)), ours({ payments: [{ transactionId: 't1', orderId: '1', totalFee: 100 }], known: [r] }));
    expect(c.reviews).toMatchObject([
      { kind: 'AMOUNT_DIFFERS', ref: 't1', billFee: 101, ourFee: 100 },
      { kind: 'AMOUNT_DIFFERS', ref: 'RF1', billFee: 99, ourFee: 100 },
    ]);
  });

  it('refunds: not SUCCESS at WeChat, unknown to us, ours missing from the bill', () => {
    const processing = { outRefundNo: 'RF1', orderId: '1', refundFee: 100 };
    const lost = { outRefundNo: 'RF2', orderId: '2', refundFee: 30 };
    const c = compareDay(bill(refund('RF1', '1', 100, 'PROCESSING'), refund('SANDBOX-x', '9', 5, 'SUCCESS')), ours({ refunds: [lost], known: [processing] }));
    expect(c.reviews.map((r) => [r.kind, r.ref])).toEqual([['REFUND_NOT_SUCCESS', 'RF1'], ['UNKNOWN_REFUND', 'SANDBOX-x'], ['REFUND_NOT_IN_BILL', 'RF2']]);
    expect(c.ours.refunds).toEqual({ count: 2, fee: 130 });
  });
});
