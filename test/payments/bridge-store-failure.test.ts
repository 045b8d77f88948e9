import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestSystem, createTestSystem } from '../helpers/system.js';
import { type Goods, createGoods, grab, notificationFields, paymentPipelineIdle, publishRaw, queueDepth, waitForStatus } from './support.js';

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
  let goods: Goods;
  const lines: { level: number; msg: string; requeued?: number; requeuedSoFar?: number }[] = [];

  beforeAll(async () => {
    const workerLogger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    s = await createTestSystem({ workers: false, workerLogger, env: { ORDER_TIMEOUT_MS: '120000', PAYMENT_LOOKUP_AFTER_MS: '3600000' } });
    const queues = s.workerInfra.core.queues;
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
    await s.startWorkers();
  }, 120_000);

  afterAll(async () => {
    await s?.close().catch(() => undefined);
  }, 120_000);

  it('requeues every event until its job is stored, logging the outage once and its end once', { timeout: 90_000 }, async () => {
    const orders = [];
    for (let i = 0; i < 5; i += 1) orders.push(await grab(s, `store-${i}`, goods.id));
    for (const o of orders) await publishRaw(s.infra.amqp, s.infra, JSON.stringify(notificationFields({ outTradeNo: o.orderId, totalFee: o.money })));

    for (const [i, o] of orders.entries()) await waitForStatus(s, `store-${i}`, o.orderId, 'PAID', 60_000);
    expect(await queueDepth(s.infra.amqp, s.infra.config.amqp.queue)).toBe(0);
    const requeued = (await s.workerInfra.core.metrics.bridgeEvents.get()).values.find((v) => v.labels.result === 'requeued')?.value;
    expect(requeued).toBe(FAILURES);

    const outage = lines.filter((l) => l.msg.startsWith('could not store payment jobs'));
    expect(outage).toHaveLength(1);
    expect(outage[0]).toMatchObject({ level: 50, requeuedSoFar: 1 });
    const recovered = lines.filter((l) => l.msg === 'payment jobs are stored again');
    expect(recovered).toEqual([expect.objectContaining({ level: 30, requeued: FAILURES })]);

    await paymentPipelineIdle(s.workerInfra, 30_000);
    const events = await s.infra.core.prisma.paymentEvent.count({ where: { orderId: { in: orders.map((o) => o.orderId) } } });
    expect(events).toBe(orders.length);
  });
});

