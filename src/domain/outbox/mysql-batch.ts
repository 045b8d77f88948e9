import { Prisma } from '../../generated/prisma/client.js';
import type { PrismaClient } from '../../infra/db/prisma.js';
import { sqlTime } from '../../infra/db/sql-time.js';
import type { OutboxRecord, PersistedStatus } from './outbox-record.js';

/**
 * One outbox batch of one goods → MySQL, in one transaction (design §6). Every statement is
 * idempotent, so a batch replayed after a crash between the commit and the outbox ack changes
 * nothing, and the rules are enforced in SQL, not by reading first:
 *
 * - a status never moves backwards: a row that is PAID or CLOSED keeps its status and columns
 *   (ON DUPLICATE KEY UPDATE assigns left to right, so `status` is assigned last and every
 *   other column still sees the old status);
 * - a paid order's sale is counted once: `sale_counted` flips FALSE → TRUE in an UPDATE whose
 *   affected rows are the newly paid orders, and stock_count drops by exactly that number;
 * - payment events are unique by transaction id; review items by (order, kind), and a resolved
 *   one is never reopened.
 *
 * Concurrent persisters of one goods queue on the goods row (locked first, exclusively), which
 * also avoids the shared-then-exclusive upgrade deadlock of the foreign-key checks.
 */

export class GoodsMissingError extends Error {
  constructor(readonly goodsId: string) {
    super(`goods ${goodsId} does not exist in MySQL: its outbox cannot be persisted until it does`);
    this.name = 'GoodsMissingError';
  }
}

export interface BatchResult {
  orders: number;
  newlySold: number;
  payments: number;
  reviews: number;
}


const FINAL: PersistedStatus[] = ['PAID', 'CLOSED'];

// Generous bounds: a batch of 500 orders is a handful of statements; waiting for the goods row
// lock behind another persister's batch is the longest part.
const TRANSACTION = { isolationLevel: 'ReadCommitted', maxWait: 10_000, timeout: 30_000 } as const;

export async function writeOutboxBatch(prisma: PrismaClient, goodsId: string, records: OutboxRecord[]): Promise<BatchResult> {
  const rows = records.filter((r): r is OutboxRecord & { status: PersistedStatus } => r.status !== undefined);
  const result: BatchResult = { orders: rows.length, newlySold: 0, payments: 0, reviews: 0 };
  if (rows.length === 0) return result;
  const now = sqlTime(Date.now());
  const goods = BigInt(goodsId);

  return prisma.$transaction(async (tx) => {
    const locked = await tx.$queryRaw<{ id: bigint }[]>`SELECT id FROM tb_seckill_goods WHERE id = ${goods} FOR UPDATE`;
    if (locked.length === 0) throw new GoodsMissingError(goodsId);

    const values = rows.map((r) => Prisma.sql`(${r.orderId}, ${goods}, ${r.userId}, ${r.money}, ${r.status}, ${sqlTime(r.createTime)},
      ${sqlTime(r.deadline)}, ${sqlTime(r.payTime)}, ${r.transactionId}, ${sqlTime(r.closedAt)}, ${r.closeReason}, ${r.reviewReason}, ${now})`);
    await tx.$executeRaw`INSERT INTO tb_seckill_order
        (id, goods_id, user_id, money, status, create_time, deadline, pay_time, transaction_id, closed_at, close_reason, review_reason, updated_at)
      VALUES ${Prisma.join(values)}
      ON DUPLICATE KEY UPDATE
        pay_time = IF(status IN ('PAID', 'CLOSED'), pay_time, VALUES(pay_time)),
        transaction_id = IF(status IN ('PAID', 'CLOSED'), transaction_id, VALUES(transaction_id)),
        closed_at = IF(status IN ('PAID', 'CLOSED'), closed_at, VALUES(closed_at)),
        close_reason = IF(status IN ('PAID', 'CLOSED'), close_reason, VALUES(close_reason)),
        review_reason = IF(status IN ('PAID', 'CLOSED'), review_reason, VALUES(review_reason)),
        updated_at = IF(status IN ('PAID', 'CLOSED'), updated_at, VALUES(updated_at)),
        status = IF(status IN ('PAID', 'CLOSED'), status, VALUES(status))`;

    const paid = rows.filter((r) => r.status === 'PAID').map((r) => r.orderId);
    if (paid.length > 0) {
      result.newlySold = await tx.$executeRaw`UPDATE tb_seckill_order SET sale_counted = TRUE
        WHERE id IN (${Prisma.join(paid)}) AND status = 'PAID' AND sale_counted = FALSE`;
      if (result.newlySold > 0) {
        await tx.$executeRaw`UPDATE tb_seckill_goods SET stock_count = stock_count - ${result.newlySold}, updated_at = ${now} WHERE id = ${goods}`;
      }
    }

    const payments = rows.flatMap((r) => r.payments.map((p) => Prisma.sql`(${p.transactionId}, ${r.orderId}, ${p.totalFee}, ${p.resultCode}, ${p.timeEnd}, ${JSON.stringify(p.payload)}, ${now})`));
    if (payments.length > 0) {
      await tx.$executeRaw`INSERT INTO tb_payment_event (transaction_id, order_id, total_fee, result_code, time_end, payload, received_at)
        VALUES ${Prisma.join(payments)} ON DUPLICATE KEY UPDATE transaction_id = transaction_id`;
      result.payments = payments.length;
    }

    const reviews = rows.flatMap((r) =>
      r.reviews.map((v) => {
        const done = v.resolution;
        return Prisma.sql`(${r.orderId}, ${v.kind}, ${v.reason}, ${now}, ${done ? 'RESOLVED' : 'OPEN'}, ${done?.outcome ?? null}, ${done ? sqlTime(done.at) : null})`;
      }),
    );
    if (reviews.length > 0) {
      // a resolution is written once and never undone; an open item only gets its latest reason
      await tx.$executeRaw`INSERT INTO tb_review_item (order_id, kind, reason, created_at, status, outcome, resolved_at) VALUES ${Prisma.join(reviews)}
        ON DUPLICATE KEY UPDATE
          reason = IF(status = 'OPEN', VALUES(reason), reason),
          outcome = IF(status = 'OPEN' AND VALUES(status) = 'RESOLVED', VALUES(outcome), outcome),
          resolved_at = IF(status = 'OPEN' AND VALUES(status) = 'RESOLVED', VALUES(resolved_at), resolved_at),
          status = IF(VALUES(status) = 'RESOLVED', 'RESOLVED', status)`;
      result.reviews = reviews.length;
    }

    // a close that finally succeeded (or a payment that settled it) ends the close-failure review
    const settled = rows.filter((r) => FINAL.includes(r.status)).map((r) => r.orderId);
    if (settled.length > 0) {
      await tx.$executeRaw`UPDATE tb_review_item SET status = 'RESOLVED', resolved_at = ${now}
        WHERE order_id IN (${Prisma.join(settled)}) AND kind = 'CLOSE_FAILED' AND status = 'OPEN'`;
    }
    return result;
  }, TRANSACTION);
}
