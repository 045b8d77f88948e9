import type { ReviewKind, ReviewOutcome, ReviewStatus } from '../../generated/prisma/enums.js';
import type { CoreDeps } from '../deps.js';
import { DomainError } from '../errors.js';
import { isOrderId } from '../orders/order-id.js';
import { readLiveOrder } from '../orders/order-view.js';
import { Transition } from '../orders/transition-codes.js';
import { orderTransitions } from '../orders/transitions.js';

export interface ReviewView {
  orderId: string;
  kind: ReviewKind;
  reason: string;
  status: ReviewStatus;
  createdAt: string;
  resolvedAt?: string;
  outcome?: ReviewOutcome;
  /** late payments: our refund and its state */
  refund?: { outRefundNo: string; status: string };
  order: { goodsId: string; userId: string; money: number; status: string };
}

export const reviewNotFound = (orderId: string) => new DomainError('REVIEW_NOT_FOUND', `no open review for order ${orderId}`);

export async function listReviews(deps: Pick<CoreDeps, 'prisma'>, status: 'OPEN' | 'RESOLVED' = 'OPEN'): Promise<ReviewView[]> {
  const items = await deps.prisma.reviewItem.findMany({ where: { status }, include: { order: true }, orderBy: { createdAt: 'asc' }, take: 500 });
  return items.map((item) => ({
    orderId: item.orderId,
    kind: item.kind,
    reason: item.reason,
    status: item.status,
    createdAt: item.createdAt.toISOString(),
    ...(item.resolvedAt ? { resolvedAt: item.resolvedAt.toISOString() } : {}),
    ...(item.outcome ? { outcome: item.outcome } : {}),
    ...(item.outRefundNo ? { refund: { outRefundNo: item.outRefundNo, status: item.refundStatus ?? 'REQUESTED' } } : {}),
    order: { goodsId: item.order.goodsId.toString(), userId: item.order.userId, money: item.order.money, status: item.order.status },
  }));
}

/** Re-run the close path of an order in NEEDS_REVIEW (NEEDS_REVIEW → CLOSING, then the close job now). */
export async function retryReview(deps: CoreDeps, orderId: string): Promise<{ orderId: string; status: 'CLOSING' }> {
  if (!isOrderId(orderId)) throw reviewNotFound(orderId);
  // Redis first: a review still in the outbox (MySQL behind or down) is retryable too
  const live = await readLiveOrder(deps, orderId);
  const kinds = live?.status === 'NEEDS_REVIEW' ? await openReviewKindsInRedis(deps, live.goodsId, orderId) : (await deps.prisma.reviewItem.findMany({ where: { orderId, status: 'OPEN' } })).map((i) => i.kind as string);
  if (kinds.length === 0) throw reviewNotFound(orderId);
  if (!kinds.includes('CLOSE_FAILED')) {
    throw new DomainError('REVIEW_NOT_RETRYABLE', `review of order ${orderId} is ${kinds.join(', ')}: closing again would not help; resolve it by hand`);
  }
  if (!live) throw new DomainError('REVIEW_NOT_RETRYABLE', `order ${orderId} is no longer live in Redis; resolve it by hand`);
  const code = await orderTransitions(deps, orderId, live.goodsId).beginClose(live.closeReason ?? 'TIMEOUT', true);
  if (code !== Transition.Done && code !== Transition.AlreadyClosing) {
    throw new DomainError('REVIEW_NOT_RETRYABLE', `order ${orderId} is ${live.status}; nothing to retry`);
  }
  await deps.queues.closeNow({ orderId, goodsId: live.goodsId });
  return { orderId, status: 'CLOSING' };
}

/** The review kinds recorded on a live order (`review:<kind>`) that nobody resolved yet. */
async function openReviewKindsInRedis(deps: Pick<CoreDeps, 'redis' | 'keys'>, goodsId: string, orderId: string): Promise<string[]> {
  const hash = await deps.redis.hgetall(deps.keys.forGoods(goodsId).order(orderId));
  return Object.keys(hash)
    .filter((field) => field.startsWith('review:'))
    .map((field) => field.slice('review:'.length))
    .filter((kind) => hash[`resolved:${kind}`] === undefined);
}
