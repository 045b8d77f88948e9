import type { CoreDeps } from '../deps.js';
import { DomainError } from '../errors.js';
import { isOrderId } from '../orders/order-id.js';
import { readLiveOrder } from '../orders/order-view.js';
import { Transition } from '../orders/transition-codes.js';
import type { ReviewOutcome } from '../outbox/outbox-record.js';
import { reviewNotFound } from './reviews.js';
import { relistGoods } from '../goods/retire.js';
import type { ReviewKind } from '../../generated/prisma/enums.js';

export const REVIEW_OUTCOMES = ['RESTOCK', 'SOLD', 'REFUNDED'] as const satisfies readonly ReviewOutcome[];

export interface ResolvedReview {
  orderId: string;
  outcome: ReviewOutcome;
  /** the order's status after the resolution */
  status: string;
  resolvedAt: string;
}

const alreadyResolved = (orderId: string) => new DomainError('REVIEW_ALREADY_RESOLVED', `the review of order ${orderId} is already resolved`);

/**
 * A person resolves an order's review (design §7): RESTOCK (the unit back on sale), SOLD (it
 * stays sold; MySQL's stock_count is decremented), REFUNDED (the money went back; a unit the
 * order held goes back on sale too). Redis is settled atomically (resolveReview.lua: stock,
 * held set, the buyer free to grab again) and the resolution reaches MySQL through the outbox;
 * review items already in MySQL are marked at once as well. A review resolved once cannot be
 * resolved again (409), and nothing later reopens it.
 */
export async function resolveReview(deps: CoreDeps, orderId: string, outcome: ReviewOutcome): Promise<ResolvedReview> {
  if (!isOrderId(orderId)) throw reviewNotFound(orderId);
  const live = await readLiveOrder(deps, orderId);
  const now = new Date();
  if (live) {
    const k = deps.keys.forGoods(live.goodsId);
    // a final order's review resolved after its sale was retired: back in live-goods first, so
    // the persister drains the outbox entry this writes (retire.ts)
    if (live.status === 'CLOSED' || live.status === 'PAID') await relistGoods(deps, live.goodsId);
    const code = await deps.redis.resolveReview(k.order(orderId), k.stock, k.held, k.buyer(live.userId), k.outbox, k.paidPending, outcome, deps.keys.restockChannel);
    switch (code) {
      case Transition.Done:
        // this process hears its own restock at once; the others through the restock channel
        if (outcome !== 'SOLD') deps.soldOut?.forget(live.goodsId);
        // listed again after the outbox append too (retire.ts: a retirement may have raced)
        await relistGoods(deps, live.goodsId);
        break;
      case Transition.ReviewAlreadyResolved:
        // every review Redis knows is resolved, but MySQL may hold one Redis never had (a
        // RECONCILIATION review opened the next day): settle that one there, or say it is done.
        // Only that kind: another kind still OPEN in MySQL is one whose resolution in Redis the
        // persister has not written yet, and a second outcome must not overwrite the first.
        return resolveInMysql(deps, orderId, outcome, now, live.status, ['RECONCILIATION']);
      case Transition.NoUnitHeld:
        throw new DomainError('REVIEW_OUTCOME_NOT_POSSIBLE', `order ${orderId} is ${live.status}: it holds no unit to sell; resolve it as REFUNDED or RESTOCK`);
      case Transition.NoReview:
        // open or being closed (an admin retry runs): nothing for a person to settle now
        if (live.status === 'UNPAID' || live.status === 'CLOSING') throw reviewNotFound(orderId);
        return resolveInMysql(deps, orderId, outcome, now, live.status); // reviews recorded only in MySQL
      case Transition.OrderNotFound:
        return resolveInMysql(deps, orderId, outcome, now);
      default:
        throw new Error(`resolveReview returned unexpected code ${code} for order ${orderId}`);
    }
    // items already persisted are settled now; the others are written RESOLVED by the persister
    await deps.prisma.reviewItem.updateMany({ where: { orderId, status: 'OPEN' }, data: { status: 'RESOLVED', outcome, resolvedAt: now } });
    const after = await readLiveOrder(deps, orderId);
    deps.logger.info({ orderId, outcome, status: after?.status }, 'review resolved');
    return { orderId, outcome, status: after?.status ?? live.status, resolvedAt: now.toISOString() };
  }
  return resolveInMysql(deps, orderId, outcome, now);
}

/** An order that has left Redis: its reviews are in MySQL only, and it holds no unit. */
async function resolveInMysql(deps: CoreDeps, orderId: string, outcome: ReviewOutcome, now: Date, liveStatus?: string, onlyKinds?: ReviewKind[]): Promise<ResolvedReview> {
  const kindFilter = onlyKinds ? { kind: { in: onlyKinds } } : {};
  const items = await deps.prisma.reviewItem.findMany({ where: { orderId, ...kindFilter }, select: { status: true }, take: 10 });
  if (items.length === 0 && onlyKinds) throw alreadyResolved(orderId);
  if (items.length === 0) throw reviewNotFound(orderId);
  if (items.every((item) => item.status === 'RESOLVED')) throw alreadyResolved(orderId);
  const row = await deps.prisma.seckillOrder.findUnique({ where: { id: orderId }, select: { status: true } });
  const status = liveStatus ?? row?.status ?? 'unknown';
  if (outcome === 'SOLD') {
    // no unit is held for it in the live sale (Redis): selling one now would oversell
    throw new DomainError('REVIEW_OUTCOME_NOT_POSSIBLE', `order ${orderId} (${status}) holds no unit in the live sale; resolve it as REFUNDED or RESTOCK`);
  }
  const { count } = await deps.prisma.reviewItem.updateMany({ where: { orderId, status: 'OPEN', ...kindFilter }, data: { status: 'RESOLVED', outcome, resolvedAt: now } });
  if (count === 0) throw alreadyResolved(orderId); // resolved by someone else meanwhile
  deps.logger.info({ orderId, outcome, status }, 'review resolved (MySQL only)');
  return { orderId, outcome, status, resolvedAt: now.toISOString() };
}
