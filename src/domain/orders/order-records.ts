import type { PrismaClient } from '../../infra/db/prisma.js';

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

const isDuplicateKey = (err: unknown) => typeof err === 'object' && err !== null && (err as { code?: string }).code === 'P2002';

/** Runs a write that may lose an INSERT race with a copy of itself; the loser finds the row. */
async function ignoringDuplicates(write: () => Promise<unknown>): Promise<void> {
  try {
    await write();
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
  }
}

/**
 * A payment for an order whose row MySQL already has (CLOSED, or in review): the payment event
 * and a PAID_AFTER_CLOSE review item. A review that was resolved stays resolved.
 */
export async function recordPaymentForFinalOrder(prisma: PrismaClient, orderId: string, reason: string, p: PaymentRecord): Promise<void> {
  await ignoringDuplicates(() =>
    prisma.paymentEvent.create({
      data: { transactionId: p.transactionId, orderId, totalFee: p.totalFee, resultCode: p.resultCode, timeEnd: p.timeEnd ?? null, payload: p.fields },
    }),
  );
  await ignoringDuplicates(() =>
    prisma.reviewItem.upsert({
      where: { orderId_kind: { orderId, kind: 'PAID_AFTER_CLOSE' } },
      create: { orderId, kind: 'PAID_AFTER_CLOSE', reason: reason.slice(0, 1000) },
      update: {},
    }),
  );
}
