import type { CoreDeps } from '../deps.js';
import { DomainError, orderNotFound } from '../errors.js';
import { isOrderId } from './order-id.js';
import { getBuyerOrder, readLiveOrder } from './order-view.js';
import { Transition } from './transition-codes.js';
import { orderTransitions } from './transitions.js';

/**
 * Buyer cancel: record USER_CANCEL with the UNPAID → CLOSING step, then run the order's close
 * job now. The close itself is the timeout's path (close at WeChat first), done by a worker.
 */
export async function cancelOrder(deps: CoreDeps, buyerId: string, orderId: string): Promise<{ orderId: string; status: 'CLOSING' }> {
  if (!isOrderId(orderId)) throw orderNotFound(orderId);
  const order = await readLiveOrder(deps, orderId);
  if (!order) {
    const final = await getBuyerOrder(deps, buyerId, orderId);
    throw new DomainError('ORDER_NOT_CANCELLABLE', `order is ${final.status}`);
  }
  if (order.userId !== buyerId) throw orderNotFound(orderId);
  const code = await orderTransitions(deps, orderId, order.goodsId).beginClose('USER_CANCEL');
  if (code !== Transition.Done && code !== Transition.AlreadyClosing) {
    const status = (await readLiveOrder(deps, orderId))?.status ?? 'final';
    throw new DomainError('ORDER_NOT_CANCELLABLE', `order is ${status}`);
  }
  await deps.queues.closeNow({ orderId, goodsId: order.goodsId });
  return { orderId, status: 'CLOSING' };
}
