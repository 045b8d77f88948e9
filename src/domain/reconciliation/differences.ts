import type { DifferenceAction, DifferenceKind } from '../../generated/prisma/enums.js';
import type { CoreDeps } from '../deps.js';
import { isDuplicateKey } from '../../infra/db/duplicates.js';

/**
 * The record of each difference (tb_reconciliation_difference), written *before* its action and
 * updated after: a run that dies in between finds it PENDING next time and does the action again
 * (every action is idempotent). One row per day, kind and subject, so running a day again adds
 * nothing it already found.
 */
export interface DifferenceInput {
  readonly billDate: string;
  readonly kind: DifferenceKind;
  readonly ref: string;
  readonly orderId: string;
  readonly billFee?: number;
  readonly ourFee?: number;
  readonly detail: string;
}

/** The recorded difference's action: PENDING when this call recorded it (or its action is still to do). */
export async function recordDifference(deps: Pick<CoreDeps, 'prisma' | 'metrics'>, d: DifferenceInput): Promise<DifferenceAction> {
  const key = { billDate_kind_ref: { billDate: d.billDate, kind: d.kind, ref: d.ref } };
  const existing = await deps.prisma.reconciliationDifference.findUnique({ where: key, select: { action: true } });
  if (existing) return existing.action;
  try {
    await deps.prisma.reconciliationDifference.create({
      data: { billDate: d.billDate, kind: d.kind, ref: d.ref, orderId: d.orderId, billFee: d.billFee ?? null, ourFee: d.ourFee ?? null, detail: d.detail.slice(0, 1000) },
    });
  } catch (err) {
    // another run recorded it a moment ago (P2002: unique constraint): theirs stands
    if (!isDuplicateKey(err)) throw err;
    const row = await deps.prisma.reconciliationDifference.findUniqueOrThrow({ where: key, select: { action: true } });
    return row.action;
  }
  deps.metrics.reconciliationDifferences.inc({ kind: d.kind });
  return 'PENDING';
}

export async function settleDifference(deps: Pick<CoreDeps, 'prisma'>, d: Pick<DifferenceInput, 'billDate' | 'kind' | 'ref'>, action: DifferenceAction, outcome: string): Promise<void> {
  await deps.prisma.reconciliationDifference.update({
    where: { billDate_kind_ref: { billDate: d.billDate, kind: d.kind, ref: d.ref } },
    data: { action, outcome: outcome.slice(0, 500) },
  });
}
