import type { Bill, BillPayment } from './bill.js';

/**
 * The comparison of one day, both directions, as a pure function of the bill and our records
 * (compare.test.ts). What to do about each finding is act.ts's business.
 *
 * - A payment in the bill that we have no payment event for: `missing` (we may have missed the
 *   notification, or closed the order; act.ts asks WeChat and takes the payment path).
 * - A payment event of ours (time_end on that day) that the bill does not have: NOT_IN_BILL.
 * - The same transaction with another amount (订单金额 against our total_fee): AMOUNT_DIFFERS.
 * - A refund in the bill that is not SUCCESS at WeChat: REFUND_NOT_SUCCESS; one we never asked
 *   for: UNKNOWN_REFUND; one of ours for another amount: AMOUNT_DIFFERS.
 * - A refund of ours that WeChat accepted (asked for that day) but the bill lacks: REFUND_NOT_IN_BILL.
 */

export interface OurPayment {
  readonly transactionId: string;
  readonly orderId: string;
  readonly totalFee: number;
}

export interface OurRefund {
  readonly outRefundNo: string;
  readonly orderId: string;
  readonly refundFee: number;
}

export interface OurDay {
  /** our payment events whose time_end is on the day */
  readonly payments: readonly OurPayment[];
  /** refunds we asked for that day and WeChat accepted (PROCESSING or SUCCESS with us) */
  readonly refunds: readonly OurRefund[];
  /** every refund of ours the bill's refund rows name, whatever its day (out_refund_no → refund) */
  readonly knownRefunds: ReadonlyMap<string, OurRefund>;
}

export type ReviewedKind = 'NOT_IN_BILL' | 'AMOUNT_DIFFERS' | 'REFUND_NOT_SUCCESS' | 'UNKNOWN_REFUND' | 'REFUND_NOT_IN_BILL';

/** A difference a person must look at. */
export interface ReviewFinding {
  readonly kind: ReviewedKind;
  /** the transaction_id or out_refund_no it is about */
  readonly ref: string;
  readonly orderId: string;
  readonly billFee?: number;
  readonly ourFee?: number;
  readonly detail: string;
}

export interface Totals {
  readonly payments: { readonly count: number; readonly fee: number };
  readonly refunds: { readonly count: number; readonly fee: number };
}

export interface Comparison {
  /** payments WeChat has and we have no event of */
  readonly missing: readonly BillPayment[];
  readonly reviews: readonly ReviewFinding[];
  readonly bill: Totals;
  readonly ours: Totals;
}

const sum = <T>(items: readonly T[], pick: (item: T) => number) => items.reduce((total, item) => total + pick(item), 0);

export function compareDay(bill: Bill, ours: OurDay): Comparison {
  const billPayments = bill.rows.filter((r) => r.kind === 'payment');
  const billRefunds = bill.rows.filter((r) => r.kind === 'refund');
  const ourByTx = new Map(ours.payments.map((p) => [p.transactionId, p]));
  const billTx = new Set(billPayments.map((p) => p.transactionId));
  const billRefundNos = new Set(billRefunds.map((r) => r.outRefundNo));
  // our refunds of the day: those we asked for that day, and those the bill names (whenever we
  // asked, added below); a clean day shows the same totals on both sides
  const ourRefunds = new Map<string, OurRefund>(ours.refunds.map((r) => [r.outRefundNo, r]));

  const missing: BillPayment[] = [];
  const reviews: ReviewFinding[] = [];
  for (const row of billPayments) {
    const ourPayment = ourByTx.get(row.transactionId);
    if (!ourPayment) {
      missing.push(row);
    } else if (ourPayment.totalFee !== row.totalFee || ourPayment.orderId !== row.outTradeNo) {
      reviews.push({
        kind: 'AMOUNT_DIFFERS',
        ref: row.transactionId,
        orderId: ourPayment.orderId,
        billFee: row.totalFee,
        ourFee: ourPayment.totalFee,
        detail: `payment ${row.transactionId}: the bill says ${row.totalFee} fen for order ${row.outTradeNo}, we recorded ${ourPayment.totalFee} fen for order ${ourPayment.orderId}`,
      });
    }
  }
  for (const payment of ours.payments) {
    if (billTx.has(payment.transactionId)) continue;
    reviews.push({
      kind: 'NOT_IN_BILL',
      ref: payment.transactionId,
      orderId: payment.orderId,
      ourFee: payment.totalFee,
      detail: `we recorded payment ${payment.transactionId} of ${payment.totalFee} fen for order ${payment.orderId} on ${bill.billDate}; WeChat's bill of that day does not have it`,
    });
  }
  for (const row of billRefunds) {
    const ourRefund = ours.knownRefunds.get(row.outRefundNo);
    if (!ourRefund) {
      reviews.push({
        kind: 'UNKNOWN_REFUND',
        ref: row.outRefundNo,
        orderId: row.outTradeNo,
        billFee: row.refundFee,
        detail: `refund ${row.outRefundNo} (${row.refundStatus}) of ${row.refundFee} fen for order ${row.outTradeNo} is in the bill; we never asked for it`,
      });
      continue;
    }
    ourRefunds.set(ourRefund.outRefundNo, ourRefund);
    if (row.refundStatus !== 'SUCCESS') {
      reviews.push({
        kind: 'REFUND_NOT_SUCCESS',
        ref: row.outRefundNo,
        orderId: ourRefund.orderId,
        billFee: row.refundFee,
        ourFee: ourRefund.refundFee,
        detail: `refund ${row.outRefundNo} of order ${ourRefund.orderId} is ${row.refundStatus} in the bill, not SUCCESS`,
      });
    }
    if (row.refundFee !== ourRefund.refundFee) {
      reviews.push({
        kind: 'AMOUNT_DIFFERS',
        ref: row.outRefundNo,
        orderId: ourRefund.orderId,
        billFee: row.refundFee,
        ourFee: ourRefund.refundFee,
        detail: `refund ${row.outRefundNo}: the bill says ${row.refundFee} fen, we asked for ${ourRefund.refundFee} fen`,
      });
    }
  }
  for (const refund of ours.refunds) {
    if (billRefundNos.has(refund.outRefundNo)) continue;
    reviews.push({
      kind: 'REFUND_NOT_IN_BILL',
      ref: refund.outRefundNo,
      orderId: refund.orderId,
      ourFee: refund.refundFee,
      detail: `we asked for refund ${refund.outRefundNo} of ${refund.refundFee} fen (order ${refund.orderId}) on ${bill.billDate} and WeChat accepted it; the bill of that day does not have it`,
    });
  }
  const ourRefundList = [...ourRefunds.values()];
  return {
    missing,
    reviews,
    bill: { payments: { count: billPayments.length, fee: sum(billPayments, (p) => p.totalFee) }, refunds: { count: billRefunds.length, fee: sum(billRefunds, (r) => r.refundFee) } },
    ours: { payments: { count: ours.payments.length, fee: sum(ours.payments, (p) => p.totalFee) }, refunds: { count: ourRefundList.length, fee: sum(ourRefundList, (r) => r.refundFee) } },
  };
}
