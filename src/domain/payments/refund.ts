import type { CoreDeps } from '../deps.js';
import type { RefundPaymentJob } from '../../infra/queues/catalogue.js';

/**
 * Late payments are refunded (design §7). A payment for an order already CLOSED (its unit back on
 * sale, maybe resold) gets a PAID_AFTER_CLOSE review and, unless AUTO_REFUND_LATE_PAYMENTS=false,
 * a refund job: WeChat `refund` for the full amount with an `out_refund_no` derived from the
 * order (so a retry, a duplicate job or a second worker never refunds twice), then `refundquery`
 * until WeChat says SUCCESS; the review then resolves itself (outcome REFUNDED). The review item
 * shows `refund: {outRefundNo, status}` all along. A refund WeChat refuses, or an answer that is
 * unsigned, for another merchant or another amount, never marks anything refunded: the status
 * says why and the review stays open for a person.
 */

export const outRefundNoOf = (orderId: string) => `RF${orderId}`;

/** The refund job asks again after this long while WeChat says PROCESSING. */
export class RefundPendingError extends Error {
  constructor(readonly waitMs: number) {
    super(`refund still processing; asking again in ${waitMs} ms`);
    this.name = 'RefundPendingError';
  }
}

export class RetryableRefundError extends Error {
  constructor(reason: string) {
    super(`refund will be retried: ${reason}`);
    this.name = 'RetryableRefundError';
  }
}

/** PROCESSING: ask again after 2 s, 4 s, 8 s … at most every 10 min (bank refunds can take days). */
const pendingRecheckMs = (checks: number) => Math.min(600_000, 2_000 * 2 ** Math.min(checks, 20));

export type RefundOutcome = 'refunded' | 'failed' | 'needs-person' | 'disabled';

/** After a late payment was recorded: queue its refund (Redis only, no MySQL). */
export async function requestLateRefund(deps: CoreDeps, job: RefundPaymentJob): Promise<void> {
  if (!deps.config.wechat.autoRefund) return;
  await deps.queues.scheduleRefund(job);
}

/** The review item of the late payment, as the refund goes (it must be persisted first). */
async function markRefund(deps: CoreDeps, orderId: string, status: string, resolved: boolean): Promise<void> {
  const outRefundNo = outRefundNoOf(orderId);
  const where = { orderId, kind: 'PAID_AFTER_CLOSE' } as const;
  const { count } = await deps.prisma.reviewItem.updateMany({ where, data: { outRefundNo, refundStatus: status.slice(0, 200) } });
  // the review reaches MySQL through the outbox; until then the job tries again (the refund
  // itself is idempotent at WeChat)
  if (count === 0) throw new RetryableRefundError(`the PAID_AFTER_CLOSE review of order ${orderId} is not in MySQL yet`);
  // a review a person already resolved keeps their outcome
  if (resolved) await deps.prisma.reviewItem.updateMany({ where: { ...where, status: 'OPEN' }, data: { status: 'RESOLVED', outcome: 'REFUNDED', resolvedAt: new Date() } });
}

export async function refundLatePayment(deps: CoreDeps, job: RefundPaymentJob): Promise<RefundOutcome> {
  const outRefundNo = outRefundNoOf(job.orderId);
  const log = deps.logger.child({ orderId: job.orderId, outRefundNo });
  const checks = job.pendingChecks ?? 0;
  if (checks === 0) {
    const accepted = await requestRefund(deps, job, outRefundNo, log);
    if (accepted !== undefined) return accepted;
  }
  return confirmRefund(deps, job, outRefundNo, checks, log);
}

/** WeChat's refund call (same out_refund_no every time); undefined when accepted. */
async function requestRefund(deps: CoreDeps, job: RefundPaymentJob, outRefundNo: string, log: CoreDeps['logger']): Promise<RefundOutcome | undefined> {
  const refund = await deps.wechat.refund({
    outTradeNo: job.orderId,
    transactionId: job.transactionId,
    outRefundNo,
    totalFee: job.totalFee,
    refundFee: job.totalFee,
    refundDesc: 'payment arrived after the order was closed',
  });
  deps.metrics.wechatCalls.inc({ api: 'refund', result: refund.kind === 'error' ? refund.errCode : refund.kind });
  if (refund.kind === 'retryable') throw new RetryableRefundError(refund.reason);
  if (refund.kind !== 'ok') {
    const why = refund.kind === 'error' ? `${refund.errCode} ${refund.errCodeDes}` : `${refund.category}: ${refund.reason}`;
    log.error({ why }, 'refund refused or its answer not trusted: a person must settle the review');
    await markRefund(deps, job.orderId, `FAILED: ${why}`, false);
    return 'failed';
  }
  return undefined;
}

/** refundquery until WeChat says how it ended. */
async function confirmRefund(deps: CoreDeps, job: RefundPaymentJob, outRefundNo: string, checks: number, log: CoreDeps['logger']): Promise<RefundOutcome> {
  const query = await deps.wechat.refundQuery(outRefundNo);
  deps.metrics.wechatCalls.inc({ api: 'refundquery', result: query.kind === 'error' ? query.errCode : query.kind });
  if (query.kind === 'retryable') throw new RetryableRefundError(query.reason);
  if (query.kind !== 'ok') {
    const why = query.kind === 'error' ? `${query.errCode} ${query.errCodeDes}` : `${query.category}: ${query.reason}`;
    await markRefund(deps, job.orderId, `UNCONFIRMED: ${why}`, false);
    throw new RetryableRefundError(`refundquery: ${why}`);
  }
  if (query.data.refundFee !== job.totalFee) {
    await markRefund(deps, job.orderId, `FAILED: refundquery reports ${query.data.refundFee} fen refunded, not ${job.totalFee}`, false);
    return 'needs-person';
  }
  switch (query.data.status) {
    case 'SUCCESS':
      await markRefund(deps, job.orderId, 'SUCCESS', true);
      log.info({ refundId: query.data.refundId }, 'late payment refunded; review resolved');
      return 'refunded';
    case 'PROCESSING':
      await markRefund(deps, job.orderId, 'PROCESSING', false);
      throw new RefundPendingError(pendingRecheckMs(checks));
    default:
      // REFUNDCLOSE (closed, the money did not go back) or CHANGE (the buyer's account refused it)
      await markRefund(deps, job.orderId, query.data.status, false);
      log.error({ status: query.data.status }, 'refund did not go through: a person must settle the review');
      return 'needs-person';
  }
}
