import type { PrismaClient } from '../../infra/db/prisma.js';
import type { LiveOrder } from './order-view.js';

/**
 * MySQL records of orders that reached a final state (or review). Every function here is
 * idempotent: BullMQ delivers at least once and WeChat notifies many times.
 */

type ReviewKind = 'CLOSE_FAILED' | 'AMOUNT_MISMATCH' | 'PAID_AFTER_CLOSE';

const baseRow = (order: LiveOrder) => ({
  id: order.orderId,
  goodsId: BigInt(order.goodsId),
  userId: order.userId,
  money: order.money,
  createTime: new Date(order.createTime),
  deadline: new Date(order.deadline),
});

/** MySQL DATETIME(3) literal in UTC (the Prisma adapter's sessions run with time_zone +00:00). */
const sqlTime = (ms: number) => new Date(ms).toISOString().slice(0, 23).replace('T', ' ');

/**
 * The closed order, in one statement: the close path's hottest write (a Prisma upsert is a
 * SELECT/INSERT/SELECT transaction on MySQL, most of a close's CPU; BENCHMARKS.md "Timeouts").
 * INSERT … ON DUPLICATE KEY UPDATE is atomic, so concurrent runs of one close are safe too.
 */
export async function persistClosed(prisma: PrismaClient, order: LiveOrder): Promise<void> {
  const closedAt = sqlTime(order.closedAt ?? Date.now());
  const reason = order.closeReason ?? 'TIMEOUT';
  const affected = await prisma.$executeRaw`INSERT INTO tb_seckill_order
      (id, goods_id, user_id, money, status, create_time, deadline, closed_at, close_reason, review_reason, updated_at)
    VALUES (${order.orderId}, ${order.goodsId}, ${order.userId}, ${order.money}, 'CLOSED', ${sqlTime(order.createTime)},
      ${sqlTime(order.deadline)}, ${closedAt}, ${reason}, NULL, ${sqlTime(Date.now())})
    ON DUPLICATE KEY UPDATE status = 'CLOSED', closed_at = VALUES(closed_at), close_reason = VALUES(close_reason),
      review_reason = NULL, updated_at = VALUES(updated_at)`;
  if (affected === 1) return; // a fresh row: the order never had a review
  // a close that succeeded on retry settles an earlier CLOSE_FAILED review
  await prisma.reviewItem.updateMany({
    where: { orderId: order.orderId, kind: 'CLOSE_FAILED', status: 'OPEN' },
    data: { status: 'RESOLVED', resolvedAt: new Date() },
  });
}

export interface PaymentRecord {
  transactionId: string;
  totalFee: number;
  resultCode: string;
  timeEnd?: string | undefined;
  payTime: Date;
  fields: Record<string, string>;
}

function isDuplicateKey(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: string }).code === 'P2002';
}

async function recordPaymentEvent(prisma: Pick<PrismaClient, 'paymentEvent'>, orderId: string, p: PaymentRecord): Promise<void> {
  try {
    await prisma.paymentEvent.create({
      data: { transactionId: p.transactionId, orderId, totalFee: p.totalFee, resultCode: p.resultCode, timeEnd: p.timeEnd ?? null, payload: p.fields },
    });
  } catch (err) {
    if (!isDuplicateKey(err)) throw err; // same transaction_id already recorded: a duplicate
  }
}

// maxWait: how long to wait for a pooled connection. Prisma's 2 s default fails payment jobs
// for nothing when a burst of payments queues on the pool (WORKER_CONCURRENCY > pool size).
const PAID_TRANSACTION = { isolationLevel: 'ReadCommitted', maxWait: 10_000, timeout: 15_000 } as const;

/**
 * One transaction: the paid order, its payment event and the durable stock decrement, so the
 * goods' stock_count is decremented exactly once per order.
 *
 * Locking, in this order, so that concurrent payments of one goods (a flash sale pays hundreds
 * of orders of the same goods at once) queue instead of deadlocking:
 * 1. the goods row, exclusively, first. Inserting the order and the event takes a shared lock on
 *    the goods row (foreign-key check); two transactions that both hold it and then both want to
 *    decrement stock deadlock on the upgrade. Taking the exclusive lock first serialises the
 *    paid writes of one goods, which all update that row anyway.
 * 2. the order row. READ COMMITTED, because under REPEATABLE READ a locking read of an order not
 *    yet in MySQL (the usual case) takes a gap lock, and order ids grow, so every such read locks
 *    the same gap at the end of the index and concurrent inserts deadlock across goods.
 * A concurrent duplicate waits on (1), then finds PAID and does nothing.
 */
export async function persistPaid(prisma: PrismaClient, order: LiveOrder, payment: PaymentRecord): Promise<'applied' | 'duplicate'> {
  try {
    return await prisma.$transaction(async (tx) => {
      await tx.$queryRaw`SELECT id FROM tb_seckill_goods WHERE id = ${BigInt(order.goodsId)} FOR UPDATE`;
      const rows = await tx.$queryRaw<{ status: string }[]>`SELECT status FROM tb_seckill_order WHERE id = ${order.orderId} FOR UPDATE`;
      if (rows[0]?.status === 'PAID') return 'duplicate';
      const paid = {
        status: 'PAID' as const,
        payTime: payment.payTime,
        transactionId: payment.transactionId,
        reviewReason: null,
      };
      if (rows[0]) await tx.seckillOrder.update({ where: { id: order.orderId }, data: paid });
      else await tx.seckillOrder.create({ data: { ...baseRow(order), ...paid } });
      await tx.paymentEvent.create({
        data: {
          transactionId: payment.transactionId,
          orderId: order.orderId,
          totalFee: payment.totalFee,
          resultCode: payment.resultCode,
          timeEnd: payment.timeEnd ?? null,
          payload: payment.fields,
        },
      });
      await tx.seckillGoods.update({ where: { id: BigInt(order.goodsId) }, data: { stockCount: { decrement: 1 } } });
      await tx.reviewItem.updateMany({
        where: { orderId: order.orderId, status: 'OPEN', kind: 'CLOSE_FAILED' },
        data: { status: 'RESOLVED', resolvedAt: new Date() },
      });
      return 'applied';
    }, PAID_TRANSACTION);
  } catch (err) {
    // a concurrent duplicate inserted the order or the event first: it did the work
    if (isDuplicateKey(err)) return 'duplicate';
    throw err;
  }
}

/**
 * An order a person must look at: the order row (status NEEDS_REVIEW unless it is already
 * final, e.g. CLOSED for a payment after close) plus one open review item per kind.
 */
export async function persistReview(
  prisma: PrismaClient,
  order: LiveOrder,
  kind: ReviewKind,
  reason: string,
  payment?: PaymentRecord,
): Promise<void> {
  const text = reason.slice(0, 1000);
  const finalStatus = order.status === 'CLOSED' || order.status === 'PAID' ? order.status : 'NEEDS_REVIEW';
  await prisma.seckillOrder.upsert({
    where: { id: order.orderId },
    create: {
      ...baseRow(order),
      status: finalStatus,
      reviewReason: text.slice(0, 500),
      ...(finalStatus === 'CLOSED' ? { closedAt: new Date(order.closedAt ?? Date.now()), closeReason: order.closeReason ?? 'TIMEOUT' } : {}),
    },
    update: finalStatus === 'NEEDS_REVIEW' ? { status: 'NEEDS_REVIEW', reviewReason: text.slice(0, 500) } : { reviewReason: text.slice(0, 500) },
  });
  if (payment) await recordPaymentEvent(prisma, order.orderId, payment);
  await prisma.reviewItem.upsert({
    where: { orderId_kind: { orderId: order.orderId, kind } },
    create: { orderId: order.orderId, kind, reason: text },
    update: { reason: text, status: 'OPEN', resolvedAt: null },
  });
}
