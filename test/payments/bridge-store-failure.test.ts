import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/env.js';
import { type Infra, createInfra, waitForRedis } from '../../src/infra/context.js';
import { type PaymentBridge, startPaymentBridge } from '../../src/workers/payment-bridge.js';
import { type WorkerRuntime, startWorkers } from '../../src/workers/runtime.js';
import { type TestSystem, createTestSystem } from '../helpers/system.js';
import { type Goods, createGoods, declarePaymentTopology, grab, notificationFields, publishRaw, queueDepth, waitForStatus } from './support.js';

/**
 * The bridge while Redis refuses to store payment jobs (every store of the first FAILURES
 * fails, as a Redis outage makes them fail): every event goes back to RabbitMQ and comes again,
 * none is lost or applied twice, and the operator reads one error line for the outage, not one
 * per event and redelivery (up to AMQP_PREFETCH of them a second), then one line when it ends.
 * The fault is injected into the worker's job store; RabbitMQ, Redis and MySQL are real.
 */
describe('payment bridge while its jobs cannot be stored', () => {
  const FAILURES = 12;
  let s: TestSystem;
  let workerInfra: Infra;
  let runtime: WorkerRuntime;
  let bridge: PaymentBridge;
  let goods: Goods;
  const lines: { level: number; msg: string; requeued?: number; requeuedSoFar?: number }[] = [];

  beforeAll(async () => {
    s = await createTestSystem({ workers: false, env: { ORDER_TIMEOUT_MS: '120000', PAYMENT_LOOKUP_AFTER_MS: '3600000' } });
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    workerInfra = createInfra(loadConfig(s.env), logger, 'worker');
    await waitForRedis(workerInfra.core.redis, workerInfra.config.redisUrl);
    runtime = await startWorkers(workerInfra, { sweeper: false });
    const queues = workerInfra.core.queues;
    const store = queues.addPaymentEvent.bind(queues);
    let failuresLeft = FAILURES;
    queues.addPaymentEvent = async (event) => {
      if (failuresLeft > 0) {
        failuresLeft -= 1;
        throw new Error('Connection is closed.');
      }
      return store(event);
    };
    goods = await createGoods(s, 300, 20, 'bridge-store');
    // the events wait in the queue for the bridge, started by the test
    await declarePaymentTopology(s.infra);
  }, 120_000);

  afterAll(async () => {
    await bridge?.close().catch(() => undefined);
    await runtime?.close().catch(() => undefined);
    await workerInfra?.close().catch(() => undefined);
    await s?.close().catch(() => undefined);
  }, 120_000);

  it('requeues every event until its job is stored, logging the outage once and its end once', { timeout: 90_000 }, async () => {
    const orders = [];
    for (let i = 0; i < 5; i += 1) orders.push(await grab(s, `store-${i}`, goods.id));
    for (const o of orders) await publishRaw(s.infra.amqp, s.infra, JSON.stringify(notificationFields({ outTradeNo: o.orderId, totalFee: o.money })));
    bridge = startPaymentBridge(workerInfra);

    for (const [i, o] of orders.entries()) await waitForStatus(s, `store-${i}`, o.orderId, 'PAID', 60_000);
    expect(await queueDepth(s.infra.amqp, s.infra.config.amqp.queue)).toBe(0);
    const requeued = (await workerInfra.core.metrics.bridgeEvents.get()).values.find((v) => v.labels.result === 'requeued')?.value;
    expect(requeued).toBe(FAILURES);

    const outage = lines.filter((l) => l.msg.startsWith('could not store payment jobs'));
    expect(outage).toHaveLength(1);
    expect(outage[0]).toMatchObject({ level: 50, requeuedSoFar: 1 });
    const recovered = lines.filter((l) => l.msg === 'payment jobs are stored again');
    expect(recovered).toEqual([expect.objectContaining({ level: 30, requeued: FAILURES })]);

    const events = await eventuallyEvents(s, orders.map((o) => o.orderId));
    expect(events).toBe(orders.length);
  });
});

/** payment events in MySQL for these orders, once the persister has written them all */
async function eventuallyEvents(s: TestSystem, orderIds: string[]): Promise<number> {
  const until = Date.now() + 30_000;
  for (;;) {
    const n = await s.infra.core.prisma.paymentEvent.count({ where: { orderId: { in: orderIds } } });
    if (n >= orderIds.length || Date.now() > until) return n;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
