import { ConsumerStatus } from 'rabbitmq-client';
import { loadConfig } from '../../src/config/env.js';
import { closeOrder } from '../../src/domain/orders/close.js';
import { createInfra, waitForRedis } from '../../src/infra/context.js';
import { createLogger } from '../../src/infra/logger.js';
import { startPersister } from '../../src/domain/outbox/persister.js';
import { PERSISTED_ORDER_TTL_SECONDS } from '../../src/domain/outbox/drain-batch.js';
import { sqlTime } from '../../src/infra/db/sql-time.js';
import { parseOutboxEntry } from '../../src/domain/outbox/outbox-record.js';
import type { CoreDeps } from '../../src/domain/deps.js';
import { type TimerMessage, originalTimerNames, originalTopology } from './original-timer.js';

/**
 * The original design's listener (SeckillOrderDelayMessageListener) as one process of this
 * codebase: it consumes the timer queue and does, per message, the work our close job does
 * (src/domain/orders/close.ts: CAS, WeChat closeorder over HTTP, Lua restock), once
 * (lastAttempt: true — the original had no retry; a failure goes to review). Same clients, pools,
 * logger and concurrency (WORKER_CONCURRENCY messages in flight, prefetch the same) as a worker.
 * Started by bench/timeouts.ts with an IPC channel; BENCH_TIMER_PREFIX names its queues.
 *
 * BENCH_ORIGINAL_PERSIST says how a close reaches MySQL:
 * - `per-message` (default): the original design's way — the listener writes the closed order
 *   to MySQL before it acks the message, in one autocommitted `INSERT … ON DUPLICATE KEY UPDATE`
 *   (the cheapest write per message: what this project's close job did before the outbox, see
 *   BENCHMARKS.md "persistClosed as one statement"; a final status is never overwritten);
 * - `outbox`: the close stays in the goods' outbox and this process's persister writes it in
 *   batches, exactly as our workers do: the original timer with our persistence.
 */
const config = loadConfig(process.env);
const logger = createLogger('original-timer', config.logLevel);
const infra = createInfra(config, logger, 'worker');
await waitForRedis(infra.core.redis, config.redisUrl);
const persistMode = process.env.BENCH_ORIGINAL_PERSIST ?? 'per-message';
if (persistMode !== 'per-message' && persistMode !== 'outbox') throw new Error(`BENCH_ORIGINAL_PERSIST must be per-message or outbox, not ${persistMode}`);
const persister = persistMode === 'outbox' ? startPersister(infra.core, config.persister) : undefined;

/**
 * The closed order written to MySQL by itself (one statement, autocommit), then its outbox
 * entry (which our close script appends; the original had none) acked.
 */
async function persistOne(deps: CoreDeps, orderId: string, goodsId: string): Promise<void> {
  const k = deps.keys.forGoods(goodsId);
  const parsed = parseOutboxEntry(orderId, goodsId, await deps.redis.hgetall(k.order(orderId)));
  if (!parsed.ok) throw new Error(`order ${orderId} cannot be persisted: ${parsed.reason}`);
  const r = parsed.record;
  if (r.status === undefined) return; // not final (a close that did not finish)
  await deps.prisma.$executeRaw`INSERT INTO tb_seckill_order
      (id, goods_id, user_id, money, status, create_time, deadline, pay_time, transaction_id, closed_at, close_reason, review_reason, updated_at)
    VALUES (${r.orderId}, ${BigInt(goodsId)}, ${r.userId}, ${r.money}, ${r.status}, ${sqlTime(r.createTime)}, ${sqlTime(r.deadline)},
      ${sqlTime(r.payTime)}, ${r.transactionId}, ${sqlTime(r.closedAt)}, ${r.closeReason}, ${r.reviewReason}, ${sqlTime(Date.now())})
    ON DUPLICATE KEY UPDATE
      closed_at = IF(status IN ('PAID', 'CLOSED'), closed_at, VALUES(closed_at)),
      close_reason = IF(status IN ('PAID', 'CLOSED'), close_reason, VALUES(close_reason)),
      updated_at = IF(status IN ('PAID', 'CLOSED'), updated_at, VALUES(updated_at)),
      status = IF(status IN ('PAID', 'CLOSED'), status, VALUES(status))`;
  await deps.redis.ackOutbox(k.outbox, k.paidPending, k.soldAcks, k.orderPrefix, PERSISTED_ORDER_TTL_SECONDS, orderId, r.version, r.status);
}
const names = originalTimerNames(process.env.BENCH_TIMER_PREFIX ?? 'bench.timer');

let failed = 0;
const consumer = infra.amqp.createConsumer(
  {
    queue: names.timerQueue,
    queueOptions: { durable: true },
    qos: { prefetchCount: config.workerConcurrency },
    concurrency: config.workerConcurrency,
    requeue: false,
    ...originalTopology(names),
  },
  async (msg) => {
    const body = (Buffer.isBuffer(msg.body) ? JSON.parse(msg.body.toString('utf8')) : msg.body) as TimerMessage;
    try {
      await closeOrder(infra.core, { orderId: body.orderId, goodsId: body.goodsId, lastAttempt: true });
      if (!persister) await persistOne(infra.core, body.orderId, body.goodsId);
    } catch (err) {
      failed += 1;
      logger.error({ err: (err as Error).message, orderId: body.orderId }, 'close failed');
    }
    return ConsumerStatus.ACK;
  },
);
consumer.on('error', (err: Error) => logger.error({ err: err.message }, 'consumer error'));
await new Promise<void>((resolve) => consumer.once('ready', () => resolve()));
logger.info({ queue: names.timerQueue, concurrency: config.workerConcurrency, persist: persistMode }, 'original timer consumer started');
process.send?.({ type: 'ready' });

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await consumer.close();
  await persister?.drainNow().catch(() => undefined);
  await persister?.close();
  await infra.close();
  logger.info({ failed }, 'original timer consumer stopped');
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('disconnect', () => void stop());
