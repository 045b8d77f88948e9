import type { CoreDeps } from '../deps.js';
import { DomainError, orderNotFound } from '../errors.js';
import { isOrderId } from './order-id.js';
import { type LiveOrder, getBuyerOrder, readLiveOrder } from './order-view.js';
import { Transition } from './transition-codes.js';
import { orderTransitions } from './transitions.js';

export interface PayResult {
  codeUrl: string;
  outTradeNo: string;
}

const notPayable = (status: string) => new DomainError('ORDER_NOT_PAYABLE', `order is ${status}; only UNPAID orders can be paid`);

/**
 * WeChat unifiedorder NATIVE for one of the buyer's UNPAID orders. Every parameter derives from
 * the order (amount, goods, deadline), never from the client, so calling again sends identical
 * parameters and WeChat's re-entry rule returns the same code_url.
 */
export async function payOrder(deps: CoreDeps, buyerId: string, orderId: string): Promise<PayResult> {
  if (!isOrderId(orderId)) throw orderNotFound(orderId);
  const order = await readLiveOrder(deps, orderId);
  if (!order) {
    const final = await getBuyerOrder(deps, buyerId, orderId); // 404 unless it is the buyer's final order
    throw notPayable(final.status);
  }
  if (order.userId !== buyerId) throw orderNotFound(orderId);
  if (order.status !== 'UNPAID') throw notPayable(order.status);

  // design §7, pay/close lease: no WeChat order once a close has begun; a close that begins now
  // waits until this call is over (lease: the call's budget plus a margin)
  const transitions = orderTransitions(deps, orderId, order.goodsId);
  const lease = await transitions.beginPay(deps.config.wechat.timeoutMs + PAY_LEASE_MARGIN_MS);
  if (lease !== Transition.Done) throw notPayable(REFUSED_LEASE[lease] ?? 'no longer payable');
  let reachedWeChat = true;
  let result: Awaited<ReturnType<typeof createWeChatOrder>>;
  try {
    result = await createWeChatOrder(deps, order);
    reachedWeChat = !(result.kind === 'fatal' && result.reason === 'invalid-request');
  } finally {
    // a failure here leaves the lease to lapse; the close then counts its end as the creation time
    await transitions.endPay(reachedWeChat).catch((err: Error) => deps.logger.error({ orderId, err: err.message }, 'pay lease not released; it lapses by itself'));
  }
  const paid = answer(deps, orderId, result);
  await scheduleLookup(deps, order);
  return paid;
}

const PAY_LEASE_MARGIN_MS = 2_000;

/** Lost notifications (design §7): ask WeChat later if no news came. Best effort: the close asks anyway. */
async function scheduleLookup(deps: CoreDeps, order: LiveOrder): Promise<void> {
  const delayMs = deps.config.wechat.lookup.afterMs;
  if (Date.now() + delayMs >= order.deadline) return;
  await deps.queues.scheduleLookup({ orderId: order.orderId, goodsId: order.goodsId, delayMs }).catch((err: Error) => {
    deps.logger.warn({ orderId: order.orderId, err: err.message }, 'payment lookup not scheduled');
  });
}

/** What beginPay's refusal means, in the 409's words (the order moved on since it was read). */
const REFUSED_LEASE: Partial<Record<Transition, string>> = {
  [Transition.IsClosing]: 'CLOSING (a close has begun)',
  [Transition.IsPaid]: 'PAID',
  [Transition.IsClosed]: 'CLOSED',
  [Transition.InReview]: 'NEEDS_REVIEW',
};

async function createWeChatOrder(deps: CoreDeps, order: LiveOrder) {
  const title = (await deps.redis.hget(deps.keys.forGoods(order.goodsId).goods, 'title')) ?? `goods ${order.goodsId}`;
  const result = await deps.wechat.unifiedOrder({
    outTradeNo: order.orderId,
    totalFee: order.money,
    body: `秒杀-${title}`.slice(0, 40),
    productId: order.goodsId,
    notifyUrl: deps.config.wechat.notifyUrl,
    timeStart: new Date(order.createTime),
    timeExpire: new Date(order.deadline),
    tradeType: 'NATIVE',
  });
  deps.metrics.wechatCalls.inc({ api: 'unifiedorder', result: result.kind === 'error' ? result.errCode : result.kind });
  return result;
}

function answer(deps: CoreDeps, orderId: string, result: Awaited<ReturnType<typeof createWeChatOrder>>): PayResult {
  switch (result.kind) {
    case 'ok':
      if (!result.data.codeUrl) throw new DomainError('PAYMENT_PROVIDER_ERROR', 'WeChat returned no code_url');
      return { codeUrl: result.data.codeUrl, outTradeNo: orderId };
    case 'error':
      if (result.errCode === 'ORDERPAID') throw notPayable('already paid at WeChat');
      if (result.errCode === 'ORDERCLOSED') throw notPayable('closed at WeChat');
      throw new DomainError('PAYMENT_PROVIDER_ERROR', `WeChat refused the payment: ${result.errCode} ${result.errCodeDes}`);
    case 'retryable':
      throw new DomainError('PAYMENT_PROVIDER_UNAVAILABLE', `WeChat Pay is unavailable, retry shortly (${result.reason})`);
    case 'fatal':
      deps.logger.error({ orderId, reason: result.reason }, 'unifiedorder failed');
      throw new DomainError('PAYMENT_PROVIDER_ERROR', 'WeChat Pay answered unexpectedly; the order is unchanged');
  }
}
