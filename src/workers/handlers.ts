import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import type { CoreDeps } from '../domain/deps.js';
import { type CloseOutcome, CloseNotYetError, closeOrder } from '../domain/orders/close.js';
import { goodsIdOfOrder } from '../domain/orders/order-id.js';
import { applyPayment } from '../domain/orders/payment.js';
import { lookUpScheduled } from '../domain/payments/lookup.js';
import { RefundPendingError, refundLatePayment } from '../domain/payments/refund.js';
import { sweep } from '../domain/orders/sweep.js';
import { reconcileDay } from '../domain/reconciliation/run.js';
import { queueYesterday } from '../domain/reconciliation/report.js';
import { type CloseOrderJob, type JobCatalogue, type JobName, QUEUE_OF, orderIdOfCloseJob } from '../infra/queues/catalogue.js';

/** One handler per job of the catalogue; the compiler refuses a missing or extra one. */
export type Handlers = { [N in JobName]: (deps: CoreDeps, job: Job<JobCatalogue[N]>, token: string | undefined) => Promise<unknown> };

// A close waiting for WeChat's 5-minute rule checks again at least this often (a /pay that ends
// early, a clock that moved), and never sooner than this after its last look.
const MIN_CLOSE_WAIT_MS = 20;
const MAX_CLOSE_WAIT_MS = 60_000;

/** This run of `job` is its last attempt: a failure now is for good. */
const isLastAttempt = (job: Job) => job.attemptsMade + 1 >= (job.opts.attempts ?? 1);

/** The close of `order` as a job: a close that may not run yet waits, without using an attempt. */
async function runClose(deps: CoreDeps, job: Job, token: string | undefined, order: CloseOrderJob): Promise<CloseOutcome> {
  try {
    return await closeOrder(deps, { ...order, lastAttempt: isLastAttempt(job) });
  } catch (err) {
    if (!(err instanceof CloseNotYetError)) throw err;
    // back to delayed, without using an attempt (BullMQ's documented pattern)
    const waitMs = Math.min(MAX_CLOSE_WAIT_MS, Math.max(MIN_CLOSE_WAIT_MS, err.waitMs));
    await job.moveToDelayed(Date.now() + waitMs, token);
    throw new DelayedError(err.message);
  }
}

export const handlers: Handlers = {
  'close-order': (deps, job, token) => runClose(deps, job, token, { orderId: job.data.orderId, goodsId: job.data.goodsId }),
  // the order is named by the job's id alone (catalogue.ts, TimeoutJob)
  timeout: async (deps, job, token) => {
    const orderId = orderIdOfCloseJob(job.id);
    const goodsId = orderId === undefined ? undefined : goodsIdOfOrder(orderId); // undefined unless an order id
    if (orderId === undefined || goodsId === undefined) throw new UnrecoverableError(`timeout job ${job.id} names no order`);
    return runClose(deps, job, token, { orderId, goodsId });
  },
  'apply-payment': (deps, job) => applyPayment(deps, job.data),
  'lookup-payment': (deps, job) => lookUpScheduled(deps, job.data),
  'refund-payment': async (deps, job, token) => {
    try {
      return await refundLatePayment(deps, job.data);
    } catch (err) {
      if (!(err instanceof RefundPendingError)) throw err;
      // WeChat accepted it and is still processing: only refundquery from now on, later and
      // less often each time, without using an attempt
      await job.updateData({ ...job.data, pendingChecks: (job.data.pendingChecks ?? 0) + 1 });
      await job.moveToDelayed(Date.now() + err.waitMs, token);
      throw new DelayedError(err.message);
    }
  },
  sweep: (deps) => sweep(deps),
  // a retryable failure throws (BullMQ's backoff); a bad bill completes the job as FAILED
  'reconcile-day': (deps, job) => reconcileDay(deps, job.data.billDate, { lastAttempt: isLastAttempt(job) }),
  'reconcile-yesterday': (deps) => queueYesterday(deps),
};

/** Start-up check (the compile-time one cannot see jobs added by name at run time). */
export function assertCatalogueHandled(): void {
  for (const name of Object.keys(QUEUE_OF)) {
    if (typeof (handlers as Record<string, unknown>)[name] !== 'function') throw new Error(`job ${name} has no handler`);
  }
}
