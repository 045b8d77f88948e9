import type { DifferenceAction, DifferenceKind } from '../../generated/prisma/enums.js';
import type { CoreDeps } from '../deps.js';
import { DomainError } from '../errors.js';
import { checkBillDate, previousBeijingDate } from './bill-date.js';
import type { Totals } from './compare.js';

/** The reconciliation of one day as the admin API shows it (amounts in fen). */
export interface ReconciliationView {
  billDate: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  runs: number;
  /** FAILED: why; RUNNING: the last retryable error */
  failureReason?: string;
  startedAt: string;
  finishedAt?: string;
  /** counts and totals of the last successful comparison: WeChat's bill and our records */
  bill: Totals;
  ours: Totals;
  differences: DifferenceView[];
}

export interface DifferenceView {
  kind: DifferenceKind;
  ref: string;
  orderId: string;
  billFee?: number;
  ourFee?: number;
  detail: string;
  /** PENDING (its run has not finished it yet), PAYMENT_APPLIED, LATE_REFUND, REVIEW */
  action: DifferenceAction;
  outcome?: string;
  foundAt: string;
}

export const reconciliationNotFound = (billDate: string) => new DomainError('RECONCILIATION_NOT_FOUND', `no reconciliation of ${billDate} yet: POST /admin/seckill/reconciliations/${billDate}/run starts one`);

export async function getReconciliation(deps: Pick<CoreDeps, 'prisma'>, billDate: string, now = new Date()): Promise<ReconciliationView> {
  checkBillDate(billDate, now);
  const row = await deps.prisma.reconciliation.findUnique({ where: { billDate }, include: { differences: { orderBy: { id: 'asc' }, take: 10_000 } } });
  if (!row) throw reconciliationNotFound(billDate);
  return {
    billDate,
    status: row.status,
    runs: row.runs,
    ...(row.failureReason ? { failureReason: row.failureReason } : {}),
    startedAt: row.startedAt.toISOString(),
    ...(row.finishedAt ? { finishedAt: row.finishedAt.toISOString() } : {}),
    bill: { payments: { count: row.billPayments, fee: Number(row.billPaymentFee) }, refunds: { count: row.billRefunds, fee: Number(row.billRefundFee) } },
    ours: { payments: { count: row.ourPayments, fee: Number(row.ourPaymentFee) }, refunds: { count: row.ourRefunds, fee: Number(row.ourRefundFee) } },
    differences: row.differences.map((d) => ({
      kind: d.kind,
      ref: d.ref,
      orderId: d.orderId,
      ...(d.billFee === null ? {} : { billFee: d.billFee }),
      ...(d.ourFee === null ? {} : { ourFee: d.ourFee }),
      detail: d.detail,
      action: d.action,
      ...(d.outcome ? { outcome: d.outcome } : {}),
      foundAt: d.createdAt.toISOString(),
    })),
  };
}

/** The admin's "run it now": queued (202), or already waiting or running (also 202, nothing added). */
export async function requestReconciliation(deps: Pick<CoreDeps, 'queues'>, billDate: string, now = new Date()): Promise<{ billDate: string; state: 'QUEUED' | 'ALREADY_QUEUED' | 'RUNNING' }> {
  checkBillDate(billDate, now);
  const state = await deps.queues.scheduleReconciliation({ billDate });
  return { billDate, state: state === 'queued' ? 'QUEUED' : state === 'running' ? 'RUNNING' : 'ALREADY_QUEUED' };
}

/** The daily tick: yesterday, Beijing time. */
export async function queueYesterday(deps: Pick<CoreDeps, 'queues' | 'logger'>, now = new Date()): Promise<string> {
  const billDate = previousBeijingDate(now);
  const state = await deps.queues.scheduleReconciliation({ billDate });
  deps.logger.info({ billDate, state }, 'daily reconciliation queued');
  return billDate;
}
