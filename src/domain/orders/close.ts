import type { CoreDeps } from '../deps.js';
import { applyPayment } from './payment.js';
import { persistClosed, persistReview } from './order-records.js';
import { Transition, type CloseReason } from './transition-codes.js';
import { orderTransitions } from './transitions.js';

export type CloseOutcome = 'closed' | 'paid' | 'review' | 'nothing-to-do';

/** Thrown for a retryable WeChat failure before the last attempt: BullMQ backs off and retries. */
export class RetryableCloseError extends Error {
  constructor(reason: string) {
    super(`close will be retried: ${reason}`);
    this.name = 'RetryableCloseError';
  }
}

export interface CloseRequest {
  orderId: string;
  goodsId: string;
  /** Used only if the order is still UNPAID (a cancel has already recorded USER_CANCEL). */
  reason?: CloseReason;
  /** Last BullMQ attempt: a retryable failure now sends the order to review instead. */
  lastAttempt: boolean;
}

/**
 * The close path (design §4.6): CAS UNPAID→CLOSING, close the payment at WeChat, then
 * close with restock, or take the paid path, or send to review. Safe to run any number of
 * times: each step is a compare-and-set, and a crash between steps resumes from CLOSING.
 */
export async function closeOrder(deps: CoreDeps, req: CloseRequest): Promise<CloseOutcome> {
  const { orderId, goodsId } = req;
  const log = deps.logger.child({ orderId });
  const order = orderTransitions(deps, orderId, goodsId);

  const began = await order.beginClose(req.reason ?? 'TIMEOUT');
  if (began === Transition.IsClosed || began === Transition.IsPaid || began === Transition.InReview) {
    return settleEarlierRun(deps, req, began);
  }
  if (began !== Transition.Done && began !== Transition.AlreadyClosing) {
    log.debug({ code: began }, 'close: nothing to do');
    return 'nothing-to-do';
  }

  const result = await deps.wechat.closeOrder(orderId);
  deps.metrics.wechatCalls.inc({ api: 'closeorder', result: result.kind === 'error' ? result.errCode : result.kind });

  if (result.kind === 'ok' || (result.kind === 'error' && (result.errCode === 'ORDERCLOSED' || result.errCode === 'ORDERNOTEXIST'))) {
    return finishClose(deps, req);
  }
  if (result.kind === 'error' && result.errCode === 'ORDERPAID') {
    const query = await deps.wechat.orderQuery({ outTradeNo: orderId });
    deps.metrics.wechatCalls.inc({ api: 'orderquery', result: query.kind === 'error' ? query.errCode : query.kind });
    if (query.kind === 'ok' && (query.data.tradeState === 'SUCCESS' || query.data.tradeState === 'REFUND')) {
      await applyWeChatPayment(deps, req, query.data.fields);
      return 'paid';
    }
    const why = query.kind === 'ok' ? `trade_state ${query.data.tradeState}` : query.kind === 'error' ? query.errCode : query.reason;
    return retryOrReview(deps, req, `closeorder said ORDERPAID but orderquery gave ${why}`);
  }
  if (result.kind === 'retryable') return retryOrReview(deps, req, `closeorder: ${result.reason}`);

  const reason = result.kind === 'error' ? `closeorder: ${result.errCode} ${result.errCodeDes}` : `closeorder: ${result.reason}`;
  return toReview(deps, req, reason);
}

async function finishClose(deps: CoreDeps, req: CloseRequest): Promise<CloseOutcome> {
  const order = orderTransitions(deps, req.orderId, req.goodsId);
  const code = await order.closeWithRestock();
  if (code !== Transition.Done && code !== Transition.AlreadyDone) {
    deps.logger.warn({ orderId: req.orderId, code }, 'close confirmed by WeChat but the order moved on meanwhile');
    return 'nothing-to-do';
  }
  const closed = await order.read();
  if (closed) await raceSafe(() => persistClosed(deps.prisma, closed));
  if (code === Transition.Done && closed) {
    deps.metrics.ordersClosed.inc({ reason: closed.closeReason ?? 'TIMEOUT' });
    if (closed.closeReason !== 'USER_CANCEL') deps.metrics.closeLateness.observe(Math.max(0, (closed.closedAt ?? Date.now()) - closed.deadline) / 1000);
    deps.logger.info({ orderId: req.orderId, reason: closed.closeReason }, 'order closed, unit back on sale');
  }
  return 'closed';
}

/**
 * The order already left CLOSING. A run of this job may have died (kill -9, a MySQL error) after
 * the Redis transition and before the MySQL record, and BullMQ runs it again: finish that record
 * (every write is idempotent) instead of returning, or MySQL would never learn the outcome and a
 * paid order's durable stock would never be decremented. The common case (MySQL already has it)
 * costs one read.
 */
async function settleEarlierRun(deps: CoreDeps, req: CloseRequest, began: Transition): Promise<CloseOutcome> {
  const { orderId } = req;
  const row = await deps.prisma.seckillOrder.findUnique({ where: { id: orderId }, select: { status: true } });
  if (began === Transition.IsClosed) {
    if (row?.status === 'CLOSED') return 'nothing-to-do';
    const closed = await orderTransitions(deps, orderId, req.goodsId).read();
    if (closed?.status === 'CLOSED') await raceSafe(() => persistClosed(deps.prisma, closed));
    return 'closed';
  }
  if (began === Transition.IsPaid) {
    if (row?.status === 'PAID') return 'nothing-to-do';
    // the payment record comes from WeChat's word (orderquery), as in the ORDERPAID branch
    const query = await deps.wechat.orderQuery({ outTradeNo: orderId });
    deps.metrics.wechatCalls.inc({ api: 'orderquery', result: query.kind === 'error' ? query.errCode : query.kind });
    if (query.kind === 'ok' && (query.data.tradeState === 'SUCCESS' || query.data.tradeState === 'REFUND')) {
      await applyWeChatPayment(deps, req, query.data.fields);
      return 'paid';
    }
    if (query.kind === 'retryable' && !req.lastAttempt) throw new RetryableCloseError(`orderquery of a paid order: ${query.reason}`);
    deps.logger.error({ orderId, query }, 'order is PAID in Redis but not in MySQL and orderquery does not confirm it: the payment job must settle it');
    return 'nothing-to-do';
  }
  // NEEDS_REVIEW: make sure a close failure has its review item (only the close path's reasons:
  // an amount mismatch is recorded by the payment path, which retries by itself)
  const inReview = await orderTransitions(deps, orderId, req.goodsId).read();
  const reason = inReview?.reviewReason ?? '';
  if (inReview && row?.status !== 'NEEDS_REVIEW' && CLOSE_FAILURE.test(reason)) {
    const items = await deps.prisma.reviewItem.count({ where: { orderId } });
    if (items === 0) await raceSafe(() => persistReview(deps.prisma, inReview, 'CLOSE_FAILED', reason));
  }
  return 'nothing-to-do';
}

/** The payment-result path with what orderquery said (WeChat's word that the order is paid). */
async function applyWeChatPayment(deps: CoreDeps, req: CloseRequest, fields: Readonly<Record<string, string>>): Promise<void> {
  const outcome = await applyPayment(deps, { ...fields, result_code: 'SUCCESS' });
  if (outcome === 'unknown-order') throw new Error(`paid order ${req.orderId} was not found by the payment path`);
}

/** Review reasons written by this file (see toReview's callers). */
const CLOSE_FAILURE = /^(closeorder|retries exhausted)/;

function retryOrReview(deps: CoreDeps, req: CloseRequest, reason: string): Promise<CloseOutcome> {
  if (!req.lastAttempt) throw new RetryableCloseError(reason);
  return toReview(deps, req, `retries exhausted; last error: ${reason}`);
}

async function toReview(deps: CoreDeps, req: CloseRequest, reason: string): Promise<CloseOutcome> {
  const order = orderTransitions(deps, req.orderId, req.goodsId);
  const code = await order.markNeedsReview(reason);
  const now = await order.read();
  if (now && (code === Transition.Done || code === Transition.AlreadyDone)) {
    await raceSafe(() => persistReview(deps.prisma, now, 'CLOSE_FAILED', reason));
    deps.metrics.ordersToReview.inc({ kind: 'CLOSE_FAILED' });
  }
  deps.logger.warn({ orderId: req.orderId, reason }, 'close failed: order needs review, nothing rolled back');
  return 'review';
}

/**
 * Prisma's upsert is not one statement on MySQL (it reads, then inserts or updates), so two runs
 * of one order at once (a stalled job re-run while the first still works) can both try the
 * INSERT. The loser does it again: the row exists now and the write becomes the idempotent update.
 */
async function raceSafe(write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (err) {
    if ((err as { code?: unknown } | null)?.code !== 'P2002') throw err;
    await write();
  }
}
