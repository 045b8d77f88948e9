import type { PrismaClient } from '../../infra/db/prisma.js';
import { sqlTime } from '../../infra/db/sql-time.js';
import { ignoringDuplicates } from '../../infra/db/duplicates.js';

/**
 * Direct MySQL records of an order, for the one case the outbox cannot carry: a payment for an
 * order that has already left Redis (src/domain/orders/payment.ts). Everything else reaches
 * MySQL through the outbox (src/domain/outbox). Idempotent: WeChat notifies many times.
 */

export interface PaymentRecord {
  transactionId: string;
  totalFee: number;
  resultCode: string;
  timeEnd?: string | undefined;
  payTime: Date;
  fields: Record<string, string>;
}


/**
 * A payment for an order whose row MySQL already has (CLOSED, or in review): the payment event
 * and a PAID_AFTER_CLOSE review item, once per payment: a copy of a payment already recorded
 * changes nothing, so a resolved review stays resolved.
 */
export async function recordPaymentForFinalOrder(prisma: PrismaClient, orderId: string, reason: string, p: PaymentRecord): Promise<void> {
  const first = await ignoringDuplicates(() =>
    prisma.paymentEvent.create({
      data: { transactionId: p.transactionId, orderId, totalFee: p.totalFee, resultCode: p.resultCode, timeEnd: p.timeEnd ?? null, payload: p.fields },
    }),
  );
  if (!first) return; // this payment was handled before (and its review maybe resolved): never reopened
  await ignoringDuplicates(() =>
    prisma.reviewItem.upsert({
      where: { orderId_kind: { orderId, kind: 'PAID_AFTER_CLOSE' } },
      create: { orderId, kind: 'PAID_AFTER_CLOSE', reason: reason.slice(0, 1000) },
      update: {},
    }),
  );
}

/**
 * A signed payment for an order neither Redis nor MySQL knows (Redis lost the unpaid order):
 * never dropped. A placeholder order row in review (the id names its goods; buyer unknown, the
 * amount is what was paid), the payment event, and an UNKNOWN_ORDER review item, in one
 * transaction. Returns false if the goods does not exist either (not one of our order ids).
 */
export async function recordUnknownOrderPayment(prisma: PrismaClient, orderId: string, goodsId: string, reason: string, p: PaymentRecord): Promise<boolean> {
  const now = sqlTime(new Date());
  return prisma.$transaction(async (tx) => {
    const goods = await tx.$queryRaw<{ id: bigint }[]>`SELECT id FROM tb_seckill_goods WHERE id = ${BigInt(goodsId)}`;
    if (goods.length === 0) return false;
    await tx.$executeRaw`INSERT INTO tb_seckill_order (id, goods_id, user_id, money, status, create_time, deadline, review_reason, updated_at)
      VALUES (${orderId}, ${BigInt(goodsId)}, '', ${p.totalFee}, 'NEEDS_REVIEW', ${now}, ${now}, ${reason.slice(0, 500)}, ${now})
      ON DUPLICATE KEY UPDATE id = id`;
    await tx.$executeRaw`INSERT INTO tb_payment_event (transaction_id, order_id, total_fee, result_code, time_end, payload, received_at)
      VALUES (${p.transactionId}, ${orderId}, ${p.totalFee}, ${p.resultCode.slice(0, 16)}, ${p.timeEnd?.slice(0, 14) ?? null}, ${JSON.stringify(p.fields)}, ${now})
      ON DUPLICATE KEY UPDATE transaction_id = transaction_id`;
    await tx.$executeRaw`INSERT INTO tb_review_item (order_id, kind, reason, created_at) VALUES (${orderId}, 'UNKNOWN_ORDER', ${reason.slice(0, 1000)}, ${now})
      ON DUPLICATE KEY UPDATE order_id = order_id`;
    return true;
  }, { isolationLevel: 'ReadCommitted' });
}

