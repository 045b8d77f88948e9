import type { JobsOptions } from 'bullmq';

/**
 * The closed catalogue of jobs: queue, job name, payload type, deterministic id and default
 * options. The worker registers exactly one handler per entry (src/workers/handlers.ts) and
 * refuses to start otherwise. Ids never contain ':' and are never all digits (BullMQ rules).
 */

export interface CloseOrderJob {
  orderId: string;
  goodsId: string;
}

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

export interface JobCatalogue {
  'close-order': CloseOrderJob;
  'apply-payment': PaymentEventJob;
  'lookup-payment': LookupPaymentJob;
  'refund-payment': RefundPaymentJob;
  sweep: SweepJob;
}

export type JobName = keyof JobCatalogue;

export const QUEUE_OF = {
  'close-order': 'order-timeout',
  'apply-payment': 'payment-result',
  'lookup-payment': 'payment-lookup',
  'refund-payment': 'payment-refund',
  sweep: 'maintenance',
} as const satisfies Record<JobName, string>;

export type QueueName = (typeof QUEUE_OF)[JobName];
export const QUEUE_NAMES = [...new Set(Object.values(QUEUE_OF))] as QueueName[];

/** Job-id-safe text: anything but letters, digits, `_` and `-` becomes `_` (never a `:`). */
const safe = (text: string) => text.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 80);

export const jobId = {
  closeOrder: (orderId: string) => `timeout-${orderId}`,
  /** one per order and step of the lookup schedule (60 s after /pay, then doubling) */
  lookupPayment: (orderId: string, delayMs: number) => `lookup-${orderId}-${delayMs}`,
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

export const SWEEPER_SCHEDULER_ID = 'sweeper';

export interface RetryPolicy {
  maxAttempts: number;
  backoffMs: number;
}

export function defaultJobOptions(name: JobName, retry: RetryPolicy): JobsOptions {
  switch (name) {
    case 'close-order':
      // Retryable WeChat failures (SYSTEMERROR, timeouts, 5xx) back off exponentially; the last
      // attempt sends the order to review instead of failing (see close-order handler).
      return {
        attempts: retry.maxAttempts,
        backoff: { type: 'exponential', delay: retry.backoffMs },
        removeOnComplete: true,
        removeOnFail: { count: 10_000 },
      };
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
  }
}
