import type { CoreDeps } from '../deps.js';
import { applyPayment } from './payment.js';
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

/**
 * The close may not call closeorder yet (a /pay in flight, or WeChat's 5-minute rule): the job
 * waits `waitMs` and runs again, without using an attempt. The order stays CLOSING meanwhile
 * and may still become PAID.
 */
export class CloseNotYetError extends Error {
  constructor(
    readonly waitMs: number,
    readonly why: 'pay-in-flight' | 'wechat-order-too-young',
  ) {
    super(`close waits ${waitMs} ms: ${why}`);
    this.name = 'CloseNotYetError';
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
 * It talks only to Redis and WeChat: MySQL learns the outcome from the outbox (design §6), so
 * a MySQL outage never costs a close attempt or sends an order to review.
 */
export async function closeOrder(deps: CoreDeps, req: CloseRequest): Promise<CloseOutcome> {
  const { orderId, goodsId } = req;
  const log = deps.logger.child({ orderId });
  const order = orderTransitions(deps, orderId, goodsId);

  // one script: CLOSING, and how long closeorder must wait (design §7: never early — WeChat
  // documents no answer for it — never while a /pay may still be creating the WeChat order)
  const { code: began, wait: delay, userId } = await order.beginCloseAndCheck(req.reason ?? 'TIMEOUT', deps.config.wechat.closeMinAgeMs);
  // Already final or in review (a retried or duplicate job): its state reached the outbox in the
  // very script that set it, so nothing is left to finish here (design §6).
  if (began !== Transition.Done && began !== Transition.AlreadyClosing) {
    log.debug({ code: began }, 'close: nothing to do');
    return 'nothing-to-do';
  }
  if (delay.reason !== 'none') {
    // info the first time (an operator asks "why is it still CLOSING?"), debug on each re-check
    log[began === Transition.Done ? 'info' : 'debug']({ waitMs: delay.waitMs, why: delay.reason }, 'close: waiting before closeorder (WeChat 5-minute rule or a /pay in flight)');
    throw new CloseNotYetError(delay.waitMs, delay.reason);
  }

  const result = await deps.wechat.closeOrder(orderId);
  deps.metrics.wechatCalls.inc({ api: 'closeorder', result: result.kind === 'error' ? result.errCode : result.kind });

  if (result.kind === 'ok' || (result.kind === 'error' && (result.errCode === 'ORDERCLOSED' || result.errCode === 'ORDERNOTEXIST'))) {
    return finishClose(deps, req, userId);
  }
  if (result.kind === 'error' && result.errCode === 'ORDERPAID') {
    const query = await deps.wechat.orderQuery({ outTradeNo: orderId });
    deps.metrics.wechatCalls.inc({ api: 'orderquery', result: query.kind === 'error' ? query.errCode : query.kind });
    if (query.kind === 'ok' && query.data.tradeState === 'SUCCESS') {
      await applyWeChatPayment(deps, req, query.data.fields);
      return 'paid';
    }
    if (query.kind === 'ok' && query.data.tradeState === 'REFUND') {
      // paid, and (some or all of) it refunded since, outside this system: selling the unit
      // for money the buyer may have back, or restocking one they may have paid for, are both
      // guesses. A person decides; the unit stays held.
      return toReview(deps, req, `closeorder said ORDERPAID; orderquery says trade_state REFUND (transaction ${query.data.transactionId ?? '?'}): paid, then refunded at WeChat`);
    }
    const why = query.kind === 'ok' ? `trade_state ${query.data.tradeState}` : query.kind === 'error' ? query.errCode : query.reason;
    return retryOrReview(deps, req, `closeorder said ORDERPAID but orderquery gave ${why}`);
  }
  // An answer we cannot trust (bad or missing signature) tells us nothing, exactly like no answer:
  // WeChat may or may not have closed the order. closeorder is idempotent (a retry hears SUCCESS
  // or ORDERCLOSED), so retry rather than ask a person about a blip on the wire; if it persists,
  // the retries run out and the order goes to review all the same.
  if (result.kind === 'retryable' || (result.kind === 'fatal' && result.category === 'signature')) return retryOrReview(deps, req, `closeorder: ${result.reason}`);

  const reason = result.kind === 'error' ? `closeorder: ${result.errCode} ${result.errCodeDes}` : `closeorder: ${result.reason}`;
  return toReview(deps, req, reason);
}

async function finishClose(deps: CoreDeps, req: CloseRequest, userId: string): Promise<CloseOutcome> {
  const order = orderTransitions(deps, req.orderId, req.goodsId);
  const [code, lateMs, reason] = await order.closeWithRestockMeasured(userId);
  if (code !== Transition.Done && code !== Transition.AlreadyDone) {
    deps.logger.warn({ orderId: req.orderId, code }, 'close confirmed by WeChat but the order moved on meanwhile');
    return 'nothing-to-do';
  }
  if (code === Transition.Done) {
    deps.metrics.ordersClosed.inc({ reason });
    if (reason !== 'USER_CANCEL') deps.metrics.closeLateness.observe(Math.max(0, lateMs) / 1000);
    deps.logger.info({ orderId: req.orderId, reason }, 'order closed, unit back on sale');
  }
  return 'closed';
}

/** The payment-result path with what orderquery said (WeChat's word that the order is paid). */
async function applyWeChatPayment(deps: CoreDeps, req: CloseRequest, fields: Readonly<Record<string, string>>): Promise<void> {
  const outcome = await applyPayment(deps, { ...fields, result_code: 'SUCCESS' });
  if (outcome === 'unknown-order') throw new Error(`paid order ${req.orderId} was not found by the payment path`);
}

function retryOrReview(deps: CoreDeps, req: CloseRequest, reason: string): Promise<CloseOutcome> {
  if (!req.lastAttempt) throw new RetryableCloseError(reason);
  return toReview(deps, req, `retries exhausted; last error: ${reason}`);
}

async function toReview(deps: CoreDeps, req: CloseRequest, reason: string): Promise<CloseOutcome> {
  const code = await orderTransitions(deps, req.orderId, req.goodsId).markNeedsReview('CLOSE_FAILED', reason);
  if (code === Transition.Done) deps.metrics.ordersToReview.inc({ kind: 'CLOSE_FAILED' });
  deps.logger.warn({ orderId: req.orderId, reason, code }, 'close failed: order needs review, nothing rolled back');
  return 'review';
}
