import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestSystem, createTestSystem } from '../helpers/system.js';
import { eventually } from '../../src/sandbox/testing.js';
import { type Goods, createGoods, declarePaymentTopology, getOrder, grab, notificationFields, notificationXml, pay, postNotify, publishRaw, queueDepth, waitForStatus } from './support.js';

/**
 * A notification must never be answered SUCCESS unless RabbitMQ kept the event. If the queue
 * (or its binding) disappeared under a running API — an operator's cleanup, a policy — the
 * exchange would confirm the message and drop it.
 */
describe('payment event with nowhere to go', () => {
  let s: TestSystem;
  let goods: Goods;

  beforeAll(async () => {
    s = await createTestSystem({ workers: false, env: { ORDER_TIMEOUT_MS: '120000' } });
    goods = await createGoods(s, 700, 5);
  });
  afterAll(async () => s?.close());

  it('answers FAIL while the queue is missing, and SUCCESS again once WeChat retries (topology declared anew)', async () => {
    const order = await grab(s, 'lost-a', goods.id);
    expect((await pay(s, 'lost-a', order.orderId)).statusCode).toBe(200);
    // the API has published once already: its channel and topology are set up
    const warm = await grab(s, 'lost-warm', goods.id);
    expect((await postNotify(s.apiUrl, notificationXml({ outTradeNo: warm.orderId, totalFee: warm.money }))).status).toBe(200);

    const ch = await s.infra.amqp.acquire();
    await ch.queueDelete({ queue: s.config.amqp.queue });
    await ch.close();

    const body = notificationXml({ outTradeNo: order.orderId, totalFee: order.money });
    const first = await postNotify(s.apiUrl, body);
    expect(first.status, first.text).toBe(503);
    expect(first.returnCode).toBe('FAIL');

    const retry = await postNotify(s.apiUrl, body);
    expect(retry.status, retry.text).toBe(200);
    expect(retry.returnCode).toBe('SUCCESS');
    expect(await queueDepth(s.infra.amqp, s.config.amqp.queue)).toBe(1);

    await declarePaymentTopology(s.infra);
    await s.startWorkers();
    await waitForStatus(s, 'lost-a', order.orderId, 'PAID');
  });

  it('never drops a rejected event when the dead-letter queue is missing: it stays unacked until it can be dead-lettered', async () => {
    await s.startWorkers();
    const names = s.config.amqp;
    const order = await grab(s, 'lost-dlq', goods.id);
    // one rejected event first: the bridge's dead-letter channel is set up
    await publishRaw(s.infra.amqp, s.infra, 'not json');
    await eventually(async () => ((await queueDepth(s.infra.amqp, names.deadLetterQueue)) === 1 ? true : undefined), 10_000, 50);

    const ch = await s.infra.amqp.acquire();
    await ch.queueDelete({ queue: names.deadLetterQueue });
    await ch.close();
    const forged = JSON.stringify(notificationFields({ outTradeNo: order.orderId, totalFee: order.money, key: 'x'.repeat(32) }));
    await publishRaw(s.infra.amqp, s.infra, forged);

    // the publish to the missing queue came back: counted, the event requeued, then dead-lettered
    // once the bridge's fresh channel declared the queue again
    const dlqDepth = () => queueDepth(s.infra.amqp, names.deadLetterQueue).catch(() => -1); // -1: no such queue
    await eventually(async () => ((await dlqDepth()) === 1 ? true : undefined), 15_000, 100);
    const metrics = await s.workerInfra.core.metrics.bridgeEvents.get();
    expect(metrics.values.find((v) => v.labels.result === 'dead-letter-failed')?.value ?? 0).toBeGreaterThanOrEqual(1);
    const msg = await ch.basicGet({ queue: names.deadLetterQueue }).catch(async () => {
      const fresh = await s.infra.amqp.acquire();
      try {
        return await fresh.basicGet({ queue: names.deadLetterQueue });
      } finally {
        await fresh.close();
      }
    });
    expect(String(msg?.headers?.['x-rejection-reason'])).toMatch(/signature/);
    expect((await getOrder(s, 'lost-dlq', order.orderId)).status).toBe('UNPAID');
  });
});
