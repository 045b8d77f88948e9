import type { DifferenceKind } from '../../generated/prisma/enums.js';
import type { CoreDeps } from '../deps.js';
import { applyPayment, type PaymentOutcome } from '../orders/payment.js';
import { readLiveOrder } from '../orders/order-view.js';
import type { BillPayment } from './bill.js';
import type { ReviewFinding } from './compare.js';
import { recordDifference, settleDifference } from './differences.js';
import { ignoringDuplicates } from '../../infra/db/duplicates.js';

/**
 * What is done about each difference (design §7, last point):
 *
 * - A payment in the bill that we have no event of. The bill is not signed, so it only tells us
 *   where to look: WeChat's signed `orderquery` decides. Paid → the payment path, exactly like a
 *   notification (the order becomes PAID; a CLOSED order's payment goes to the late-payment
 *   refund; a wrong amount or an unknown order to their reviews). Not paid → a review.
 * - Anything else → a RECONCILIATION review of the order (a person decides; nothing is moved).
 *
 * A retryable WeChat failure throws: the run is retried and resumes (differences.ts).
 */
export class RetryableReconciliationError extends Error {
  constructor(readonly reason: string) {
    super(`reconciliation will be retried: ${reason}`);
    this.name = 'RetryableReconciliationError';
  }
}

export async function actOnMissingPayment(deps: CoreDeps, billDate: string, row: BillPayment): Promise<void> {
  const orderId = row.outTradeNo;
  // known in Redis, on its way to MySQL (the outbox is behind): not a difference
  const live = await readLiveOrder(deps, orderId).catch(() => undefined);
  const already = await deps.prisma.reconciliationDifference.findFirst({ where: { billDate, ref: row.transactionId }, select: { action: true, kind: true } });
  if (live?.status === 'PAID' && live.transactionId === row.transactionId) {
    // an earlier run applied it and died before settling its difference (or, with no
    // difference, Redis simply has it on its way to MySQL)
    if (already?.action === 'PENDING') await settleDifference(deps, { billDate, kind: already.kind, ref: row.transactionId }, 'PAYMENT_APPLIED', 'payment path: paid (found applied when the run resumed)');
    return;
  }
  if (already && already.action !== 'PENDING') return; // handled by an earlier run

  const query = await deps.wechat.orderQuery({ transactionId: row.transactionId });
  deps.metrics.wechatCalls.inc({ api: 'orderquery', result: query.kind === 'error' ? query.errCode : query.kind });
  if (query.kind === 'retryable') throw new RetryableReconciliationError(`orderquery ${row.transactionId}: ${query.reason}`);
  const paid = query.kind === 'ok' && (query.data.tradeState === 'SUCCESS' || query.data.tradeState === 'REFUND') && query.data.outTradeNo === orderId;
  if (!paid) {
    const said = query.kind === 'ok' ? `trade_state ${query.data.tradeState} for order ${query.data.outTradeNo ?? '?'}` : query.kind === 'error' ? `${query.errCode} ${query.errCodeDes}` : `${query.category}: ${query.reason}`;
    const finding = { kind: 'NOT_PAID_AT_WECHAT' as const, ref: row.transactionId, orderId, billFee: row.totalFee, detail: `the bill has payment ${row.transactionId} of ${row.totalFee} fen for order ${orderId}; orderquery says ${said}` };
    await reviewFinding(deps, billDate, finding);
    return;
  }
  const status = live?.status ?? (await storedStatus(deps, orderId));
  if (query.data.tradeState === 'REFUND' && status !== undefined && status !== 'CLOSED') {
    // paid and already refunded at WeChat, while our order still holds its unit (or is paid
    // by another payment): taking this payment through the payment path would sell the unit for
    // money the buyer has back. A person decides.
    const finding = { kind: 'MISSED_PAYMENT' as const, ref: row.transactionId, orderId, billFee: row.totalFee, detail: `payment ${row.transactionId} of ${row.totalFee} fen for order ${orderId} (${status} here) is in the bill but already refunded at WeChat (trade_state REFUND): not applied` };
    await reviewFinding(deps, billDate, finding);
    return;
  }
  // a run resuming a PENDING difference keeps the kind it was recorded with (the order's state
  // may have moved since: an UNKNOWN_ORDER whose payment MySQL now has)
  const kind = already?.kind ?? missingKindOf(status);
  const difference = { billDate, kind, ref: row.transactionId, orderId, billFee: row.totalFee, detail: `payment ${row.transactionId} of ${row.totalFee} fen for order ${orderId} (${row.tradeTime.toISOString()}) is in the bill; we had not recorded it` };
  await recordDifference(deps, difference);
  const outcome = await applyPayment(deps, { ...query.data.fields, result_code: 'SUCCESS' });
  deps.logger.warn({ billDate, orderId, transactionId: row.transactionId, outcome }, 'reconciliation: payment found in the bill taken through the payment path');
  await settleDifference(deps, difference, actionOf(deps, outcome), `payment path: ${outcome}`);
}

/** The order's status in MySQL (for an order Redis no longer has); undefined for one we do not know. */
async function storedStatus(deps: CoreDeps, orderId: string): Promise<string | undefined> {
  return (await deps.prisma.seckillOrder.findUnique({ where: { id: orderId }, select: { status: true } }))?.status;
}

/** What the missing payment is, from what we know of its order. */
function missingKindOf(status: string | undefined): DifferenceKind {
  if (status === undefined) return 'UNKNOWN_ORDER';
  return status === 'CLOSED' ? 'PAID_AFTER_CLOSE' : 'MISSED_PAYMENT';
}

function actionOf(deps: CoreDeps, outcome: PaymentOutcome) {
  switch (outcome) {
    case 'paid':
    case 'duplicate':
      return 'PAYMENT_APPLIED' as const;
    case 'paid-after-close':
      return deps.config.wechat.autoRefund ? ('LATE_REFUND' as const) : ('REVIEW' as const);
    default:
      return 'REVIEW' as const; // amount-mismatch, unknown-order: their own reviews
  }
}

/**
 * Record the difference and open a RECONCILIATION review of its order (one per order: a second
 * difference of the same order is listed in the report, the review already asks a person). An
 * order MySQL does not have (a refund of an order we never knew) cannot carry a review: the
 * difference in the report is then the only record.
 */
export async function reviewFinding(deps: CoreDeps, billDate: string, finding: ReviewFinding | (Omit<ReviewFinding, 'kind'> & { kind: 'NOT_PAID_AT_WECHAT' | 'MISSED_PAYMENT' })): Promise<void> {
  const difference = { billDate, ...finding };
  if ((await recordDifference(deps, difference)) !== 'PENDING') return;
  const order = await deps.prisma.seckillOrder.findUnique({ where: { id: finding.orderId }, select: { id: true } });
  if (!order) {
    await settleDifference(deps, difference, 'REVIEW', `no order ${finding.orderId} in MySQL: this report is the record`);
    return;
  }
  const reason = `reconciliation ${billDate}: ${finding.detail}`.slice(0, 1000);
  const existing = await deps.prisma.reviewItem.findUnique({ where: { orderId_kind: { orderId: finding.orderId, kind: 'RECONCILIATION' } }, select: { status: true } });
  if (!existing) {
    // (a duplicate: recorded a moment ago by another run)
    await ignoringDuplicates(() => deps.prisma.reviewItem.create({ data: { orderId: finding.orderId, kind: 'RECONCILIATION', reason } }));
    deps.metrics.ordersToReview.inc({ kind: 'RECONCILIATION' });
  }
  deps.logger.warn({ billDate, orderId: finding.orderId, kind: finding.kind }, reason);
  await settleDifference(deps, difference, 'REVIEW', existing ? `RECONCILIATION review of order ${finding.orderId} already ${existing.status}` : 'RECONCILIATION review opened');
}

/**
 * A run that died between applying a missed payment and settling its difference leaves it
 * PENDING; once MySQL has the payment the next run no longer sees it as missing at all. Settle
 * such differences: the payment is recorded, which is what their action was for.
 */
export async function settleRecordedPayments(deps: CoreDeps, billDate: string): Promise<number> {
  const pending = await deps.prisma.reconciliationDifference.findMany({
    where: { billDate, action: 'PENDING', kind: { in: ['MISSED_PAYMENT', 'PAID_AFTER_CLOSE', 'UNKNOWN_ORDER'] } },
    select: { kind: true, ref: true },
  });
  if (pending.length === 0) return 0;
  const events = await deps.prisma.paymentEvent.findMany({ where: { transactionId: { in: pending.map((d) => d.ref) } }, select: { transactionId: true } });
  const recorded = new Set(events.map((e) => e.transactionId));
  // the others are still missing: the comparison acts on them
  const done = pending.filter((d) => recorded.has(d.ref));
  for (const d of done) await settleDifference(deps, { billDate, kind: d.kind, ref: d.ref }, 'PAYMENT_APPLIED', 'payment path: recorded (found when the run resumed)');
  return done.length;
}
