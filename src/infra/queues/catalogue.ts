import type { BackoffOptions, BackoffStrategy, JobsOptions, WorkerOptions } from 'bullmq';

/**
 * The closed catalogue of jobs: queue, job name, payload type, deterministic id and default
 * options. The worker registers exactly one handler per entry (src/workers/handlers.ts) and
 * refuses to start otherwise. Ids never contain ':' and are never all digits (BullMQ rules).
 */

export interface CloseOrderJob {
  orderId: string;
  goodsId: string;
}

/**
 * An order's timer, added by the timer pump and due at the order's deadline: the same close as
 * close-order, with no payload, because its id `timeout-<orderId>` names the order and the order
 * id its goods. There is one per pending order, up to a million, so every byte is kept out of it
 * (BENCHMARKS.md, "Memory per pending order"). A name of its own, not close-order with an empty
 * payload: a worker of an earlier version, which reads the ids from the payload, refuses it
 * (no handler) instead of closing nothing (see workerDefaults for what happens then).
 */
export type TimeoutJob = Record<string, never>;

/** The notification's fields exactly as received from WeChat (or the original system's bus). */
export type PaymentEventJob = Record<string, string>;

/** Ask WeChat whether an UNPAID order was paid (lost notification), `delayMs` after the last look. */
export interface LookupPaymentJob {
  orderId: string;
  goodsId: string;
  delayMs: number;
}

/** Refund a payment that arrived after its order was closed (design §7). */
export interface RefundPaymentJob {
  orderId: string;
  transactionId: string;
  totalFee: number;
  /** how many times WeChat said PROCESSING (the refund was accepted: only refundquery from then on) */
  pendingChecks?: number;
}

export interface SweepJob {
  readonly kind: 'sweep';
}

/** Reconcile one Beijing day (yyyyMMdd) against WeChat's bill: one job id per day, so one run at a time. */
export interface ReconcileDayJob {
  billDate: string;
}

/** The daily scheduler's tick: queue the reconciliation of yesterday (Beijing). */
export interface ReconcileYesterdayJob {
  readonly kind: 'daily';
}

export interface JobCatalogue {
  /** a close to run now (buyer cancel, review retry, sweeper), and every close job of earlier versions */
  'close-order': CloseOrderJob;
  timeout: TimeoutJob;
  'apply-payment': PaymentEventJob;
  'lookup-payment': LookupPaymentJob;
  'refund-payment': RefundPaymentJob;
  sweep: SweepJob;
  'reconcile-day': ReconcileDayJob;
  'reconcile-yesterday': ReconcileYesterdayJob;
}

export type JobName = keyof JobCatalogue;

export const QUEUE_OF = {
  'close-order': 'order-timeout',
  timeout: 'order-timeout',
  'apply-payment': 'payment-result',
  'lookup-payment': 'payment-lookup',
  'refund-payment': 'payment-refund',
  sweep: 'maintenance',
  'reconcile-day': 'reconciliation',
  'reconcile-yesterday': 'reconciliation',
} as const satisfies Record<JobName, string>;

export type QueueName = (typeof QUEUE_OF)[JobName];
export const QUEUE_NAMES = [...new Set(Object.values(QUEUE_OF))] as QueueName[];

/** Job-id-safe text: anything but letters, digits, `_` and `-` becomes `_` (never a `:`). */
const safe = (text: string) => text.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 80);

export const jobId = {
  /** an order's one close job, whichever its name (timeout when pumped, close-order when run now) */
  closeOrder: (orderId: string) => `timeout-${orderId}`,
  /** one per order and step of the lookup schedule (60 s after /pay, then doubling) */
  lookupPayment: (orderId: string, delayMs: number) => `lookup-${orderId}-${delayMs}`,
  /** one run of a day at a time, whoever asks (the daily tick, an admin) */
  reconcileDay: (billDate: string) => `reconcile-${billDate}`,
  /** one refund per late payment */
  refundPayment: (orderId: string, transactionId: string) => `refund-${orderId}-${transactionId}`,
  /**
   * One id per payment *event*, not per order (design §6), so one event never hides another:
   * a success is `payment-<out_trade_no>-<transaction_id>`; any other result is keyed by its
   * result code and its signature (copies of one notification share it, different events do
   * not). Repeats of the same event still collapse into one job.
   */
  payment(fields: Readonly<Record<string, string>>): string {
    const order = safe(fields.out_trade_no ?? '');
    if (fields.result_code === 'SUCCESS' && fields.transaction_id) return `payment-${order}-${safe(fields.transaction_id)}`;
    return `payment-${order}-${safe(fields.result_code || 'NORESULT')}-${safe(fields.sign ?? fields.nonce_str ?? '')}`;
  },
};

/** The order id a close job's id names (undefined for any other id). */
export function orderIdOfCloseJob(id: string | undefined): string | undefined {
  return id?.startsWith('timeout-') ? id.slice('timeout-'.length) : undefined;
}

export const SWEEPER_SCHEDULER_ID = 'sweeper';
export const RECONCILIATION_SCHEDULER_ID = 'reconciliation';

export interface RetryPolicy {
  maxAttempts: number;
  backoffMs: number;
}

/**
 * The timer's backoff, given to each job as a backoff without a type: BullMQ hands a backoff it
 * has no built-in strategy for to the worker's `settings.backoffStrategy` (workerDefaults), which
 * is the schedule close-order's `exponential` gives. Written into each of up to a million delayed
 * jobs, `{"type":"exponential","delay":1000}` would push the job's stored options over Redis's
 * small-hash limit (close-queue.ts); `{}` is 2 bytes.
 */
const WORKER_BACKOFF = {} as BackoffOptions;

export function defaultJobOptions(name: JobName, retry: RetryPolicy): JobsOptions {
  switch (name) {
    case 'close-order':
      // Retryable WeChat failures (SYSTEMERROR, timeouts, 5xx) back off exponentially; the last
      // attempt sends the order to review instead of failing (see close-order handler).
      // (Written in full: a close run now is short-lived, and any worker version runs it.)
      return {
        attempts: retry.maxAttempts,
        backoff: { type: 'exponential', delay: retry.backoffMs },
        removeOnComplete: true,
        removeOnFail: { count: 10_000 },
      };
    case 'timeout':
      // close-order's policy, with the backoff and what happens to finished jobs left to the
      // worker (workerDefaults): per job they would cost every pending order ≈ 570 bytes
      return { attempts: retry.maxAttempts, backoff: WORKER_BACKOFF };
    case 'apply-payment':
      // A paid event must never be lost: MySQL or Redis hiccups only delay it.
      return {
        attempts: 25,
        backoff: { type: 'exponential', delay: 500 },
        removeOnComplete: { age: 3_600, count: 10_000 },
        removeOnFail: { count: 10_000 },
      };
    case 'lookup-payment':
      // best effort: the close at the deadline asks WeChat again in any case
      // kept an hour: a second /pay of the order re-adds the same id and starts no second chain
      return { attempts: 3, backoff: { type: 'exponential', delay: 1_000 }, removeOnComplete: { age: 3_600 }, removeOnFail: { count: 1_000 } };
    case 'refund-payment':
      // SYSTEMERROR / BIZERR_NEED_RETRY: again with the same out_refund_no (never a second refund)
      return { attempts: 12, backoff: { type: 'exponential', delay: retry.backoffMs }, removeOnComplete: { age: 7 * 24 * 3600 }, removeOnFail: false };
    case 'sweep':
      return { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } };
    case 'reconcile-day':
      // retryable failures (a bill still being made, SYSTEMERROR, timeouts) back off; the last
      // attempt marks the run FAILED (src/domain/reconciliation/run.ts). Kept: a run of the day
      // asked for again replaces its finished job (Queues.scheduleReconciliation).
      return { attempts: retry.maxAttempts, backoff: { type: 'exponential', delay: retry.backoffMs }, removeOnComplete: { count: 1_000 }, removeOnFail: { count: 1_000 } };
    case 'reconcile-yesterday':
      return { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } };
  }
}

/** The exponential schedule of BullMQ's built-in strategy: base, 2·base, 4·base, … */
export const closeBackoffMs = (retry: RetryPolicy, attemptsMade: number): number => Math.round(2 ** (attemptsMade - 1) * retry.backoffMs);

/**
 * Per-queue Worker options that stand in for per-job ones, for the timeout jobs: finished ones
 * are removed (failed ones kept, the last 10,000), and their backoff is closeBackoffMs. BullMQ
 * prefers a job's own options, so close-order jobs, and every job an earlier version wrote, keep
 * theirs.
 *
 * A worker of an earlier version handed a timeout job (during a rolling upgrade: a cancel
 * promoting a timer this version pumped, or the sweeper) has no handler for it, and no strategy
 * for its backoff: it logs a worker error and lets go of the job, which goes back to the queue
 * once its lock lapses (WORKER_LOCK_MS) and a stall check runs (WORKER_STALLED_INTERVAL_MS), for
 * another worker; after 3 such stalls it fails, and the sweeper closes the order once overdue.
 * Nothing is stranded (test/infra/close-queue.test.ts).
 */
export function workerDefaults(queue: QueueName, retry: RetryPolicy): Pick<WorkerOptions, 'removeOnComplete' | 'removeOnFail' | 'settings'> {
  if (queue !== QUEUE_OF.timeout) return {};
  const backoffStrategy: BackoffStrategy = (attemptsMade, type) => {
    // only WORKER_BACKOFF (no type) gets here: the built-in types never ask the worker
    if (type !== undefined && type !== '') throw new Error(`unknown backoff strategy ${type} for ${queue}`);
    return closeBackoffMs(retry, attemptsMade);
  };
  return { removeOnComplete: { count: 0 }, removeOnFail: { count: 10_000 }, settings: { backoffStrategy } };
}
