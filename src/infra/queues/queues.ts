import { Queue } from 'bullmq';
import type { RedisClient } from '../redis/client.js';
import type { Logger } from '../logger.js';
import {
  type CloseOrderJob,
  type LookupPaymentJob,
  type RefundPaymentJob,
  type ReconcileDayJob,
  type PaymentEventJob,
  type RetryPolicy,
  QUEUE_NAMES,
  QUEUE_OF,
  type QueueName,
  defaultJobOptions,
  jobId,
} from './catalogue.js';
import { CloseQueue } from './close-queue.js';
import { queuesOfShard, shardOf, shardPrefix } from './shards.js';

/** One shard's queues (shard 0 holds every queue; the others every order-keyed one, shards.ts). */
export interface QueueShard {
  shard: number;
  prefix: string;
  byName: Partial<Record<QueueName, Queue>>;
}

/**
 * Producer side of the job catalogue (used by the API and by worker handlers that enqueue).
 * The prefix is configurable; wrap it in braces (`{seckill}`, the default) so all of a queue's
 * keys share a hash slot on Redis Cluster, as BullMQ requires. With `shardCount` > 1 every
 * order-keyed queue exists once per shard and an order's jobs go to the shard of its id
 * (shards.ts, design §9).
 */
export class Queues {
  /** shard 0's queues — with one shard (the default), simply the queues; the sweeper's lives here */
  readonly byName: Record<QueueName, Queue>;
  readonly shards: readonly QueueShard[];

  readonly #connection: RedisClient;

  constructor(
    connection: RedisClient,
    readonly prefix: string,
    private readonly retry: RetryPolicy,
    logger: Logger,
    readonly shardCount = 1,
    /** reconcile-day's retries (config.reconciliation) */
    private readonly reconcileRetry: RetryPolicy = { maxAttempts: 12, backoffMs: 60_000 },
  ) {
    this.#connection = connection;
    this.shards = Array.from({ length: shardCount }, (_, shard) => {
      const shardPrefixed = shardPrefix(prefix, shard, shardCount);
      const entries = queuesOfShard(shard).map((name) => {
        // the close queue's jobs leave their id out of their stored options (see close-queue.ts)
        const options = { connection, prefix: shardPrefixed };
        const queue = name === QUEUE_OF['close-order'] ? new CloseQueue(name, options) : new Queue(name, options);
        queue.on('error', (err) => logger.error({ err: err.message, queue: name, shard }, 'queue error'));
        return [name, queue] as const;
      });
      return { shard, prefix: shardPrefixed, byName: Object.fromEntries(entries) };
    });
    this.byName = this.shards[0]!.byName as Record<QueueName, Queue>;
  }

  /** The queue `name` of the shard that holds `orderId`'s jobs. */
  of(name: Exclude<QueueName, 'maintenance' | 'reconciliation'>, orderId: string): Queue {
    return this.shards[shardOf(orderId, this.shardCount)]!.byName[name]!;
  }

  /** Every queue of every shard (Bull Board, the backlog gauges, the workers). */
  all(): { name: QueueName; shard: number; prefix: string; queue: Queue }[] {
    return this.shards.flatMap(({ shard, prefix, byName }) =>
      QUEUE_NAMES.flatMap((name) => {
        const queue = byName[name];
        return queue ? [{ name, shard, prefix, queue }] : [];
      }),
    );
  }

  /** Add (or keep) the close job of an order, due after `delayMs`. Same id: adding twice is a no-op. */
  async scheduleClose(job: CloseOrderJob, delayMs: number): Promise<void> {
    await this.of('order-timeout', job.orderId).add('close-order', job, {
      ...defaultJobOptions('close-order', this.retry),
      jobId: jobId.closeOrder(job.orderId),
      delay: Math.max(0, delayMs),
    });
  }

  /**
   * Add many orders' timers at once (the timer pump): `timeout` jobs, each due at its order's
   * deadline, with no payload (the id names the order: catalogue.ts, TimeoutJob).
   */
  async scheduleCloses(timers: { job: CloseOrderJob; deadline: number }[]): Promise<void> {
    if (timers.length === 0) return;
    const now = Date.now();
    const options = defaultJobOptions('timeout', this.retry);
    // one addBulk per shard (a shard's queue is one slot: one MULTI each)
    const byShard = new Map<Queue, typeof timers>();
    for (const timer of timers) {
      const queue = this.of('order-timeout', timer.job.orderId);
      const list = byShard.get(queue);
      if (list) list.push(timer);
      else byShard.set(queue, [timer]);
    }
    await Promise.all(
      [...byShard].map(([queue, shardTimers]) =>
        queue.addBulk(
          shardTimers.map(({ job, deadline }) => ({
            name: 'timeout',
            data: {},
            opts: { ...options, jobId: jobId.closeOrder(job.orderId), delay: Math.max(0, deadline - now) },
          })),
        ),
      ),
    );
  }

  /**
   * Run an order's close now (buyer cancel, review retry): a waiting delayed job is promoted;
   * a job that already finished or failed is replaced by a fresh one.
   */
  async closeNow(job: CloseOrderJob): Promise<void> {
    const queue = this.of('order-timeout', job.orderId);
    const id = jobId.closeOrder(job.orderId);
    const existing = await queue.getJob(id);
    if (existing) {
      const state = await existing.getState();
      if (state === 'delayed') {
        await existing.promote().catch(() => undefined); // it may have just become due: fine
        return;
      }
      if (state === 'active' || state === 'waiting' || state === 'prioritized' || state === 'waiting-children') return;
      await existing.remove().catch(() => undefined);
    }
    await this.scheduleClose(job, 0);
    // The timer pump may have added the order's delayed job between our look and our add (same
    // id: ours was then a no-op). Promote whatever is there so the close runs now.
    const added = await queue.getJob(id);
    if (added && (await added.getState()) === 'delayed') await added.promote().catch(() => undefined);
  }

  /** Is a close job present (in any state) for this order? Used by the sweeper. */
  async hasCloseJob(orderId: string): Promise<boolean> {
    const job = await this.of('order-timeout', orderId).getJob(jobId.closeOrder(orderId));
    if (!job) return false;
    const state = await job.getState();
    return state !== 'completed' && state !== 'failed' && state !== 'unknown';
  }

  /**
   * Remove an order's timer once it is paid. Harmless when the job is running (BullMQ refuses
   * to remove a locked job; the handler then finds the order PAID) or already gone.
   */
  async removeCloseJob(orderId: string): Promise<boolean> {
    try {
      return (await this.of('order-timeout', orderId).remove(jobId.closeOrder(orderId))) === 1;
    } catch {
      return false;
    }
  }

  /** Look an UNPAID order up at WeChat after `job.delayMs` (lost notifications, design §7). */
  async scheduleLookup(job: LookupPaymentJob): Promise<void> {
    await this.of('payment-lookup', job.orderId).add('lookup-payment', job, {
      ...defaultJobOptions('lookup-payment', this.retry),
      jobId: jobId.lookupPayment(job.orderId, job.delayMs),
      delay: job.delayMs,
    });
  }

  /** Refund a late payment (same id for the same payment: asked twice, refunded once). */
  async scheduleRefund(job: RefundPaymentJob): Promise<void> {
    await this.of('payment-refund', job.orderId).add('refund-payment', job, {
      ...defaultJobOptions('refund-payment', this.retry),
      jobId: jobId.refundPayment(job.orderId, job.transactionId),
    });
  }

  /**
   * Queue the reconciliation of a day. Its job id is the day's: while a run of the day waits or
   * runs, asking again changes nothing (`already`); a finished run's job is replaced by a new one.
   */
  async scheduleReconciliation(job: ReconcileDayJob): Promise<'queued' | 'already-queued' | 'running'> {
    const queue = this.byName.reconciliation;
    const id = jobId.reconcileDay(job.billDate);
    // two callers at once would both find no job and both "queue" it (the second add being a
    // no-op): the one that holds this marker looks and adds, the other is told it is queued
    const asking = `${this.prefix}:reconciliation:asking:${job.billDate}`;
    if ((await this.#connection.set(asking, '1', 'PX', 10_000, 'NX')) !== 'OK') return 'already-queued';
    try {
      const existing = await queue.getJob(id);
      if (existing) {
        // A run writes its outcome (the report) a moment before BullMQ moves its job out of
        // `active`: someone who read "FAILED" and asks again at once would be told "running"
        // and nothing would run. Give a finishing job a moment first.
        let state = await existing.getState();
        for (let i = 0; state === 'active' && i < 20; i += 1) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          state = await existing.getState();
        }
        if (state === 'active') return 'running';
        if (state === 'waiting' || state === 'delayed' || state === 'prioritized' || state === 'waiting-children') return 'already-queued';
        await existing.remove().catch(() => undefined); // completed or failed: run it again
        // (a remove refused because the job is locked again leaves it there: then it runs)
        if (await queue.getJob(id)) return 'running';
      }
      await queue.add('reconcile-day', job, { ...defaultJobOptions('reconcile-day', this.reconcileRetry), jobId: id });
      return 'queued';
    } finally {
      await this.#connection.del(asking);
    }
  }

  /** Store a payment event as its job (id per event: duplicates of one event collapse). */
  async addPaymentEvent(event: PaymentEventJob): Promise<void> {
    // an event without out_trade_no still gets one shard (shard of '')
    await this.of('payment-result', event.out_trade_no ?? '').add('apply-payment', event, {
      ...defaultJobOptions('apply-payment', this.retry),
      jobId: jobId.payment(event),
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map(({ queue }) => queue.close()));
  }
}
