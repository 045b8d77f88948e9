import { ConsumerStatus } from 'rabbitmq-client';
import { loadConfig } from '../../src/config/env.js';
import { closeOrder } from '../../src/domain/orders/close.js';
import { createInfra, waitForRedis } from '../../src/infra/context.js';
import { createLogger } from '../../src/infra/logger.js';
import { startPersister } from '../../src/domain/outbox/persister.js';
import { type TimerMessage, originalTimerNames, originalTopology } from './original-timer.js';

/**
 * The original design's listener (SeckillOrderDelayMessageListener) as one process of this
 * codebase: it consumes the timer queue and does, per message, exactly the work our close job
 * does (src/domain/orders/close.ts: CAS, WeChat closeorder over HTTP, Lua restock, MySQL), once
 * (lastAttempt: true — the original had no retry; a failure goes to review). Same clients, pools,
 * logger and concurrency (WORKER_CONCURRENCY messages in flight, prefetch the same) as a worker.
 * Started by bench/timeouts.ts with an IPC channel; BENCH_TIMER_PREFIX names its queues.
 */
const config = loadConfig(process.env);
const logger = createLogger('original-timer', config.logLevel);
const infra = createInfra(config, logger, 'worker');
await waitForRedis(infra.core.redis, config.redisUrl);
// closes reach MySQL through the outbox since the outbox change: this process persists them too
const persister = startPersister(infra.core, config.persister);
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
    } catch (err) {
      failed += 1;
      logger.error({ err: (err as Error).message, orderId: body.orderId }, 'close failed');
    }
    return ConsumerStatus.ACK;
  },
);
consumer.on('error', (err: Error) => logger.error({ err: err.message }, 'consumer error'));
await new Promise<void>((resolve) => consumer.once('ready', () => resolve()));
logger.info({ queue: names.timerQueue, concurrency: config.workerConcurrency }, 'original timer consumer started');
process.send?.({ type: 'ready' });

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await consumer.close();
  await persister.drainNow().catch(() => undefined);
  await persister.close();
  await infra.close();
  logger.info({ failed }, 'original timer consumer stopped');
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('disconnect', () => void stop());
