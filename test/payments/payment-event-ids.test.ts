import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobId } from '../../src/infra/queues/catalogue.js';
import { eventually } from '../../src/sandbox/testing.js';
import { freePort } from '../helpers/redis-server.js';
import { type TestSystem, createTestSystem } from '../helpers/system.js';
import { outboxDrained } from '../worker/support.js';
import { type Goods, createGoods, grab, notificationFields, pay, publishRaw, waitForStatus } from './support.js';

/**
 * Payment jobs are keyed by the event, not the order (design §6): a failed-payment event never
 * hides the success that follows it, and copies of one event still collapse into one job.
 */
describe('payment job ids per event', () => {
  let s: TestSystem;
  let goods: Goods;

  beforeAll(async () => {
    // WeChat's own notifications go nowhere: the events below are the only news (as published
    // by the original payment service on the bus)
    const closedPort = await freePort();
    s = await createTestSystem({ env: { WECHAT_NOTIFY_URL: `http://127.0.0.1:${closedPort}/pay/wechat/notify`, ORDER_TIMEOUT_MS: '600000' } });
    goods = await createGoods(s, 700, 5, 'event ids');
  });
  afterAll(async () => s?.close());

  it('gives a success, a failure and copies of each the ids they need', () => {
    const success = notificationFields({ outTradeNo: '11234567890123456789', totalFee: 1, transactionId: '4200000000000000000000000001' });
    const failure = notificationFields({ outTradeNo: '11234567890123456789', totalFee: 1, fields: { result_code: 'FAIL', err_code: 'PAYERROR' } });
    expect(jobId.payment(success)).toBe('payment-11234567890123456789-4200000000000000000000000001');
    expect(jobId.payment(failure)).toMatch(/^payment-11234567890123456789-FAIL-[0-9A-F]{32}$/);
    expect(jobId.payment({ ...failure })).toBe(jobId.payment(failure));
    const another = notificationFields({ outTradeNo: '11234567890123456789', totalFee: 1, fields: { result_code: 'FAIL', err_code: 'PAYERROR' } });
    expect(jobId.payment(another)).not.toBe(jobId.payment(failure));
    for (const id of [jobId.payment(success), jobId.payment(failure)]) expect(id).not.toMatch(/:/);
  });

  it('a failed-payment event followed by the success event: both are jobs, the order ends PAID', async () => {
    const order = await grab(s, 'retry-payer', goods.id);
    expect((await pay(s, 'retry-payer', order.orderId)).statusCode).toBe(200);
    const paidAtWeChat = await s.sandbox.pay(order.orderId); // the second try succeeded at WeChat
    const transactionId = paidAtWeChat.body.transaction_id as string;

    const failure = notificationFields({ outTradeNo: order.orderId, totalFee: 700, transactionId: '', fields: { result_code: 'FAIL', err_code: 'PAYERROR', err_code_des: 'bank declined' } });
    const success = notificationFields({ outTradeNo: order.orderId, totalFee: 700, transactionId });
    await publishRaw(s.workerInfra.amqp, s.infra, JSON.stringify(failure), 'application/json');
    await publishRaw(s.workerInfra.amqp, s.infra, JSON.stringify(success), 'application/json');

    await waitForStatus(s, 'retry-payer', order.orderId, 'PAID');
    const queue = s.infra.core.queues.byName['payment-result'];
    const jobs = await eventually(async () => {
      const found = await Promise.all([queue.getJob(jobId.payment(failure)), queue.getJob(jobId.payment(success))]);
      return found.every((job) => job?.finishedOn) ? found : undefined;
    }, 10_000);
    expect(jobs.map((job) => job?.returnvalue)).toEqual(['failed-payment', expect.stringMatching(/^(paid|duplicate)$/)]);

    await outboxDrained(s, goods.id);
    const row = await s.infra.core.prisma.seckillOrder.findUnique({ where: { id: order.orderId }, include: { payments: true } });
    expect(row).toMatchObject({ status: 'PAID', transactionId, saleCounted: true });
    expect(row?.payments.map((p) => p.transactionId)).toEqual([transactionId]);
    expect((await s.infra.core.prisma.seckillGoods.findUniqueOrThrow({ where: { id: BigInt(goods.id) } })).stockCount).toBe(4);
  });
});
