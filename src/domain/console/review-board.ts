import type { ReviewOutcome } from '../../generated/prisma/enums.js';
import type { CoreDeps } from '../deps.js';
import { type ReviewView, listReviews } from '../reviews/reviews.js';

/** An open review as the console shows it: the review, the order now, and its payments. */
export interface ReviewCard extends ReviewView {
  /** the order's status in the live sale (Redis) when it is still there: it may have moved on since MySQL's row */
  liveStatus?: string;
  payments: { transactionId: string; totalFee: number; resultCode: string; receivedAt: string }[];
  /** a close can be tried again (the only kind a retry can settle; the domain decides in the end) */
  retryable: boolean;
}

export interface ResolvedCard {
  orderId: string;
  kind: string;
  outcome: ReviewOutcome | null;
  resolvedAt: string | null;
  orderStatus: string;
  /** the order's status in the live sale, when it is still there (MySQL learns a resolution through the outbox) */
  liveStatus?: string;
}

export interface ReviewBoard {
  open: ReviewCard[];
  /** the latest resolutions, newest first */
  resolved: ResolvedCard[];
}

const RESOLVED_SHOWN = 10;

type Deps = Pick<CoreDeps, 'prisma' | 'redis' | 'keys'>;

/**
 * What a person must decide, read through the admin API's own listReviews (same items, same
 * order), with what the operator asks next: is the order still in review right now, and what
 * did WeChat pay for it.
 */
export async function readReviewBoard(deps: Deps): Promise<ReviewBoard> {
  const [open, resolvedRows] = await Promise.all([
    listReviews(deps, 'OPEN'),
    deps.prisma.reviewItem.findMany({ where: { status: 'RESOLVED' }, orderBy: { resolvedAt: 'desc' }, take: RESOLVED_SHOWN, include: { order: { select: { status: true, goodsId: true } } } }),
  ]);
  const orderIds = [...new Set(open.map((r) => r.orderId))];
  const liveStatus = (goodsId: string, orderId: string) => deps.redis.hget(deps.keys.forGoods(goodsId).order(orderId), 'status');
  const [payments, liveStatuses, resolvedLive] = await Promise.all([
    orderIds.length === 0 ? [] : deps.prisma.paymentEvent.findMany({ where: { orderId: { in: orderIds } }, orderBy: { receivedAt: 'asc' } }),
    Promise.all(open.map((r) => liveStatus(r.order.goodsId, r.orderId))),
    Promise.all(resolvedRows.map((r) => liveStatus(r.order.goodsId.toString(), r.orderId))),
  ]);
  return {
    open: open.map((review, i) => {
      const live = liveStatuses[i];
      return {
        ...review,
        ...(live ? { liveStatus: live } : {}),
        payments: payments
          .filter((p) => p.orderId === review.orderId)
          .map((p) => ({ transactionId: p.transactionId, totalFee: p.totalFee, resultCode: p.resultCode, receivedAt: p.receivedAt.toISOString() })),
        retryable: review.kind === 'CLOSE_FAILED',
      };
    }),
    resolved: resolvedRows.map((row, i) => ({
      orderId: row.orderId,
      kind: row.kind,
      outcome: row.outcome,
      resolvedAt: row.resolvedAt?.toISOString() ?? null,
      orderStatus: row.order.status,
      ...(resolvedLive[i] ? { liveStatus: resolvedLive[i] } : {}),
    })),
  };
}
