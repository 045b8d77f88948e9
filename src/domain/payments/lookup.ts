import type { CoreDeps } from '../deps.js';
import { applyPayment } from '../orders/payment.js';
import { type LiveOrder, readLiveOrder } from '../orders/order-view.js';
import type { LookupPaymentJob } from '../../infra/queues/catalogue.js';

/**
 * Lost notifications (design §7). WeChat does not guarantee that its payment notification
 * arrives, so an UNPAID order that has a WeChat order is looked up with orderquery: when its
 * buyer looks at it (at most once per order per PAYMENT_LOOKUP_MIN_INTERVAL_MS), and by a job
 * PAYMENT_LOOKUP_AFTER_MS after /pay, then again at doubling intervals until the deadline (the
 * close asks WeChat once more anyway). A SUCCESS takes the payment path, exactly like a
 * notification.
 */

export type LookupOutcome = 'paid' | 'not-paid' | 'unavailable';

type Deps = CoreDeps;

/** orderquery for one order; a paid answer is applied through the payment path. */
export async function lookUpPayment(deps: Deps, order: Pick<LiveOrder, 'orderId'>): Promise<LookupOutcome> {
  const query = await deps.wechat.orderQuery({ outTradeNo: order.orderId });
  deps.metrics.wechatCalls.inc({ api: 'orderquery', result: query.kind === 'error' ? query.errCode : query.kind });
  if (query.kind !== 'ok') {
    deps.logger.debug({ orderId: order.orderId, query }, 'payment lookup: no answer from WeChat');
    return 'unavailable';
  }
  // REFUND (paid, then refunded at WeChat) is not applied as a payment: the close asks WeChat
  // again at the deadline and sends such an order to a person (close.ts)
  if (query.data.tradeState !== 'SUCCESS') return 'not-paid';
  deps.logger.warn({ orderId: order.orderId, transactionId: query.data.transactionId }, 'payment found by orderquery: its notification was lost');
  await applyPayment(deps, { ...query.data.fields, result_code: 'SUCCESS' });
  return 'paid';
}

/** An order worth asking WeChat about: UNPAID, and /pay created its WeChat order. */
const lookable = (order: LiveOrder | undefined): order is LiveOrder => order?.status === 'UNPAID' && order.wechatOrderAt !== undefined;

/**
 * The buyer's GET: look the order up if it is lookable and nobody asked for it recently.
 * Returns true if it turned out paid. Never throws: the GET answers from Redis regardless.
 */
export async function lookUpOnView(deps: Deps, order: LiveOrder): Promise<boolean> {
  if (!lookable(order)) return false;
  const marker = deps.keys.forGoods(order.goodsId).lookup(order.orderId);
  const interval = deps.config.wechat.lookup.minIntervalMs;
  try {
    if (interval > 0 && (await deps.redis.set(marker, '1', 'PX', interval, 'NX')) !== 'OK') return false;
    return (await lookUpPayment(deps, order)) === 'paid';
  } catch (err) {
    deps.logger.warn({ orderId: order.orderId, err: (err as Error).message }, 'payment lookup on view failed');
    return false;
  }
}

/** The lookup job: ask once; if still unpaid, ask again after twice the delay, while before the deadline. */
export async function lookUpScheduled(deps: Deps, job: LookupPaymentJob): Promise<LookupOutcome | 'not-applicable'> {
  const order = await readLiveOrder(deps, job.orderId);
  if (!lookable(order)) return 'not-applicable';
  const outcome = await lookUpPayment(deps, order);
  const next = job.delayMs * 2;
  if (outcome !== 'paid' && Date.now() + next < order.deadline) {
    await deps.queues.scheduleLookup({ ...job, delayMs: next });
  }
  return outcome;
}
