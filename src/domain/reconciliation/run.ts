import type { CoreDeps } from '../deps.js';
import { RetryableReconciliationError, actOnMissingPayment, reviewFinding, settleRecordedPayments } from './act.js';
import { type Bill, BillFormatError, emptyBill, parseBill } from './bill.js';
import { checkBillDate } from './bill-date.js';
import { type Comparison, compareDay } from './compare.js';
import { loadOurDay, paymentsOfDay } from './our-side.js';

/**
 * One run of T+1 reconciliation (design §7, last point), as the `reconcile-day` job runs it:
 *
 * 1. the day's row goes RUNNING (runs + 1);
 * 2. WeChat's bill is downloaded and parsed strictly — a bill that cannot be trusted (summary not
 *    matching, unknown layout, another merchant, a cut body) or WeChat refusing the request makes
 *    the run FAILED with the reason, and **nothing is acted on**; a retryable failure (bill still
 *    being made, SYSTEMERROR, timeouts) throws so the job tries again later, and the last attempt
 *    makes it FAILED;
 * 3. the comparison of both sides, then one action per difference, each recorded before it is
 *    done and idempotent (act.ts, differences.ts): a run that dies half way is simply run again,
 *    and a day run twice changes nothing the second time;
 * 4. SUCCEEDED with the counts and totals of both sides.
 */
export type RunOutcome = 'succeeded' | 'failed';

export interface RunOptions {
  /** the job's last attempt: a retryable failure now fails the run */
  readonly lastAttempt: boolean;
  readonly now?: Date;
}

export async function reconcileDay(deps: CoreDeps, billDate: string, options: RunOptions): Promise<RunOutcome> {
  const gaveUp = (reason: string) => `gave up after ${deps.config.reconciliation.attempts} attempts: ${reason}`;
  try {
    return await runOnce(deps, billDate, options);
  } catch (err) {
    // WeChat not answering (downloadbill, orderquery): retried, and the last attempt fails the day
    if (err instanceof RetryableReconciliationError) return options.lastAttempt ? fail(deps, billDate, gaveUp(err.reason)) : retryLater(deps, billDate, err);
    // anything else (MySQL down, Redis down, a bug) is retried by the job like a WeChat error;
    // the last attempt leaves the day FAILED with the reason instead of RUNNING for ever
    if (!options.lastAttempt || (err as { code?: string }).code === 'INVALID_INPUT') throw err;
    await fail(deps, billDate, gaveUp((err as Error).message)).catch(() => undefined);
    throw err;
  }
}

async function runOnce(deps: CoreDeps, billDate: string, options: RunOptions): Promise<RunOutcome> {
  const now = options.now ?? new Date();
  checkBillDate(billDate, now);
  const log = deps.logger.child({ billDate, reconciliation: true });
  await deps.prisma.reconciliation.upsert({
    where: { billDate },
    create: { billDate, status: 'RUNNING', runs: 1, startedAt: now },
    update: { status: 'RUNNING', runs: { increment: 1 }, startedAt: now, finishedAt: null, failureReason: null },
  });

  let bill: Bill;
  try {
    bill = await downloadBill(deps, billDate);
  } catch (err) {
    if (err instanceof BillFormatError || err instanceof BillRefusedError) return fail(deps, billDate, err.message);
    throw err;
  }

  const ours = await loadOurDay(deps, billDate, bill.rows.filter((r) => r.kind === 'refund'));
  const comparison = compareDay(bill, ours);
  for (const row of comparison.missing) await actOnMissingPayment(deps, billDate, row);
  for (const finding of comparison.reviews) await reviewFinding(deps, billDate, finding);
  await settleRecordedPayments(deps, billDate);
  await succeed(deps, billDate, comparison);
  log.info({ bill: comparison.bill, ours: comparison.ours, missing: comparison.missing.length, reviews: comparison.reviews.length }, 'reconciliation succeeded');
  return 'succeeded';
}

/** WeChat refused the request itself (signature, parameters, no bill permission): a person must look. */
export class BillRefusedError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'BillRefusedError';
  }
}

async function downloadBill(deps: CoreDeps, billDate: string): Promise<Bill> {
  const { gzip, maxBillBytes } = deps.config.reconciliation;
  const res = await deps.wechat.downloadBill({ billDate, gzip, maxBytes: maxBillBytes });
  deps.metrics.wechatCalls.inc({ api: 'downloadbill', result: res.kind === 'error' ? res.errCode : res.kind });
  if (res.kind === 'retryable') throw new RetryableReconciliationError(res.reason.startsWith('downloadbill') ? res.reason : `downloadbill: ${res.reason}`);
  if (res.kind === 'error') throw new BillRefusedError(`downloadbill: ${res.errCode} ${res.errCodeDes}`);
  if (res.kind === 'fatal') throw new BillRefusedError(`downloadbill: ${res.category}: ${res.reason}`);
  if (res.data.noBill) {
    // "No Bill Exist" is an empty day only if we have no payment that day either: otherwise the
    // answer is wrong or early, and comparing against nothing would flag every one of ours
    const ours = await deps.prisma.paymentEvent.count({ where: paymentsOfDay(billDate) });
    if (ours > 0) throw new BillRefusedError(`downloadbill: WeChat has no bill for ${billDate}, but we recorded ${ours} payment(s) that day: not compared; run the day again later`);
    return emptyBill(billDate);
  }
  return parseBill(res.data.text, { billDate, appId: deps.config.wechat.appId, mchId: deps.config.wechat.mchId });
}

async function retryLater(deps: CoreDeps, billDate: string, err: RetryableReconciliationError): Promise<never> {
  await deps.prisma.reconciliation.update({ where: { billDate }, data: { failureReason: `retrying: ${err.reason}`.slice(0, 1000) } });
  deps.metrics.reconciliationRuns.inc({ result: 'retried' });
  deps.logger.warn({ billDate, err: err.message }, 'reconciliation will be retried');
  throw err;
}

async function fail(deps: CoreDeps, billDate: string, reason: string): Promise<RunOutcome> {
  await deps.prisma.reconciliation.update({ where: { billDate }, data: { status: 'FAILED', failureReason: reason.slice(0, 1000), finishedAt: new Date() } });
  deps.metrics.reconciliationRuns.inc({ result: 'failed' });
  deps.logger.error({ billDate, reason }, 'reconciliation FAILED: nothing was acted on; a person must look, then run it again');
  return 'failed';
}

async function succeed(deps: CoreDeps, billDate: string, c: Comparison): Promise<void> {
  const finishedAt = new Date();
  await deps.prisma.reconciliation.update({
    where: { billDate },
    data: {
      status: 'SUCCEEDED',
      failureReason: null,
      finishedAt,
      billPayments: c.bill.payments.count,
      billPaymentFee: BigInt(c.bill.payments.fee),
      billRefunds: c.bill.refunds.count,
      billRefundFee: BigInt(c.bill.refunds.fee),
      ourPayments: c.ours.payments.count,
      ourPaymentFee: BigInt(c.ours.payments.fee),
      ourRefunds: c.ours.refunds.count,
      ourRefundFee: BigInt(c.ours.refunds.fee),
    },
  });
  deps.metrics.reconciliationRuns.inc({ result: 'succeeded' });
  deps.metrics.reconciliationLastSuccess.set(finishedAt.getTime() / 1000);
}

/** A worker starting up shows the last success MySQL knows of (the gauge is per process). */
export async function loadLastSuccess(deps: Pick<CoreDeps, 'prisma' | 'metrics'>): Promise<void> {
  const last = await deps.prisma.reconciliation.findFirst({ where: { status: 'SUCCEEDED' }, orderBy: { finishedAt: 'desc' }, select: { finishedAt: true } });
  if (last?.finishedAt) deps.metrics.reconciliationLastSuccess.set(last.finishedAt.getTime() / 1000);
}
