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

/** Runs a write that may lose an INSERT race with a copy of itself; false when the row was there. */
async function ignoringDuplicates(write: () => Promise<unknown>): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    return false;
  }
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
