import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobId } from '../../src/infra/queues/catalogue.js';
import { fromBeijingTime } from '../../src/infra/wechat/time.js';
import { eventually } from '../../src/sandbox/testing.js';
import { type TestSystem, createTestSystem } from '../helpers/system.js';
import { outboxDrained } from '../worker/support.js';
import {
  type Goods,
  apiMetrics,
  createGoods,
  getOrder,
  grab,
  notificationXml,
  pay,
  paymentPipelineIdle,
  postNotify,
  sample,
  stock,
  transactionId,
  waitForStatus,
} from './support.js';

/**
 * The payment path end to end on the real services: the sandbox pays and notifies the API over
 * HTTP, the API publishes to RabbitMQ, the worker's bridge turns the event into a BullMQ job,
 * and the job marks the order PAID in Redis and MySQL.
 */
describe('payment notification → RabbitMQ → bridge → PAID', () => {
  let s: TestSystem;
  let goods: Goods;

  beforeAll(async () => {
    s = await createTestSystem({ env: { ORDER_TIMEOUT_MS: '120000' } });
    goods = await createGoods(s, 1234, 10);
  });
  afterAll(async () => s?.close());

  const prisma = () => s.infra.core.prisma;
  const paidRow = (orderId: string) =>
    eventually(async () => {
      const row = await prisma().seckillOrder.findUnique({ where: { id: orderId } });
      return row?.status === 'PAID' ? row : undefined;
    }, 15_000, 25);

  it('pays the order: MySQL row, payment event, stock decremented once, timer removed, buyer free again', async () => {
    const order = await grab(s, 'flow-a', goods.id);
    expect((await pay(s, 'flow-a', order.orderId)).statusCode).toBe(200);
    const timer = await eventually(async () => (await s.infra.core.queues.byName['order-timeout'].getJob(jobId.closeOrder(order.orderId))) ?? undefined, 5_000, 20);
    expect(await timer?.getState()).toBe('delayed');
    const before = await stock(s, goods.id);
    const accepted = sample(await apiMetrics(s), 'seckill_wechat_notifications_total', { result: 'accepted' });

    const paid = await s.sandbox.pay(order.orderId);
    expect(paid.status, JSON.stringify(paid.body)).toBe(200);
    const { transaction_id: txId, time_end: timeEnd } = paid.body as { transaction_id: string; time_end: string };

    const row = await paidRow(order.orderId);
    expect(row.transactionId).toBe(txId);
    expect(row.payTime?.getTime()).toBe(fromBeijingTime(timeEnd)?.getTime());
    expect(row.money).toBe(1234);
    expect(row.userId).toBe('flow-a');

    const events = await prisma().paymentEvent.findMany({ where: { orderId: order.orderId } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ transactionId: txId, totalFee: 1234, resultCode: 'SUCCESS', timeEnd });
    expect((events[0]?.payload as Record<string, string>).sign).toMatch(/^[0-9A-F]{32}$/);

    await paymentPipelineIdle(s.infra);
    expect(await stock(s, goods.id)).toEqual({ stockCount: before.stockCount - 1, available: before.available });
    expect(await s.infra.core.queues.byName['order-timeout'].getJob(jobId.closeOrder(order.orderId))).toBeUndefined();

    const view = await getOrder(s, 'flow-a', order.orderId);
    expect(view).toMatchObject({ status: 'PAID', payTime: row.payTime?.toISOString() });
    const ledger = await s.sandbox.ledger();
    expect(ledger.notifications.filter((n) => n.out_trade_no === order.orderId).map((n) => [n.http_status, n.outcome])).toEqual([[200, 'SUCCESS']]);
    expect(sample(await apiMetrics(s), 'seckill_wechat_notifications_total', { result: 'accepted' })).toBe(accepted + 1);

    // the buyer's marker is cleared: the same buyer may grab the same goods again
    const next = await grab(s, 'flow-a', goods.id);
    expect(next.orderId).not.toBe(order.orderId);
  });

  it('applies the same notification delivered 5 times concurrently (and again later) exactly once', async () => {
    const order = await grab(s, 'flow-dup', goods.id);
    expect((await pay(s, 'flow-dup', order.orderId)).statusCode).toBe(200);
    const before = await stock(s, goods.id);

    expect((await s.sandbox.pay(order.orderId, { concurrent: 5 })).status).toBe(200);
    await eventually(async () => {
      const copies = (await s.sandbox.ledger()).notifications.filter((n) => n.out_trade_no === order.orderId);
      return copies.length === 5 ? copies : undefined;
    }, 15_000, 25);
    await paidRow(order.orderId);
    // a second delivery cycle, 5 copies again, after the order is paid
    expect((await s.sandbox.notify(order.orderId, { concurrent: 5 })).status).toBe(200);
    const copies = await eventually(async () => {
      const all = (await s.sandbox.ledger()).notifications.filter((n) => n.out_trade_no === order.orderId);
      return all.length === 10 ? all : undefined;
    }, 15_000, 25);
    // every copy was answered SUCCESS (each carried its own nonce and signature)
    expect(copies.every((n) => n.outcome === 'SUCCESS' && n.http_status === 200)).toBe(true);
    await paymentPipelineIdle(s.infra);

    expect(await prisma().paymentEvent.count({ where: { orderId: order.orderId } })).toBe(1);
    expect(await prisma().seckillOrder.count({ where: { id: order.orderId, status: 'PAID' } })).toBe(1);
    expect(await stock(s, goods.id)).toEqual({ stockCount: before.stockCount - 1, available: before.available });
    expect((await getOrder(s, 'flow-dup', order.orderId)).status).toBe('PAID');
  });

  it('turns a payment for an order already CLOSED here into a PAID_AFTER_CLOSE review; the unit is not sold twice', async () => {
    const live = await grab(s, 'flow-late', goods.id);
    const gone = await grab(s, 'flow-late-2', goods.id);
    for (const [buyer, order] of [['flow-late', live], ['flow-late-2', gone]] as const) {
      expect((await pay(s, buyer, order.orderId)).statusCode).toBe(200);
      const res = await s.app.inject({ method: 'POST', url: `/seckill/orders/${order.orderId}/cancel`, headers: s.buyer(buyer) });
      expect(res.statusCode, res.body).toBe(202);
      await waitForStatus(s, buyer, order.orderId, 'CLOSED');
    }
    // the second order has also left Redis (its TTL, set once it was persisted, ran out): only MySQL knows it
    await outboxDrained(s, goods.id);
    const k = s.infra.core.keys;
    await s.infra.core.redis.del(k.forGoods(goods.id).order(gone.orderId));
    await paymentPipelineIdle(s.infra);
    const before = await stock(s, goods.id);

    // WeChat is known to accept payments 30–60 s past time_expire; its notification is authentic
    const txIds = [transactionId(), transactionId()];
    for (const [i, order] of [live, gone].entries()) {
      const answer = await postNotify(s.apiUrl, notificationXml({ outTradeNo: order.orderId, totalFee: order.money, transactionId: txIds[i] }));
      expect(answer.status, answer.text).toBe(200);
      expect(answer.returnCode).toBe('SUCCESS');
    }
    for (const [i, order] of [live, gone].entries()) {
      const item = await eventually(() => prisma().reviewItem.findFirst({ where: { orderId: order.orderId, kind: 'PAID_AFTER_CLOSE' } }).then((r) => r ?? undefined), 15_000, 25);
      expect(item.status).toBe('OPEN');
      expect(item.reason).toContain(txIds[i]);
      const row = await prisma().seckillOrder.findUnique({ where: { id: order.orderId } });
      expect(row).toMatchObject({ status: 'CLOSED', closeReason: 'USER_CANCEL', payTime: null, transactionId: null });
      expect(await prisma().paymentEvent.count({ where: { orderId: order.orderId, transactionId: txIds[i] } })).toBe(1);
    }
    await paymentPipelineIdle(s.infra);
    expect(await stock(s, goods.id)).toEqual(before);
    expect((await getOrder(s, 'flow-late', live.orderId)).status).toBe('CLOSED');
    const reviews = await s.app.inject({ method: 'GET', url: '/admin/seckill/reviews', headers: s.admin });
    const listed = reviews.json<{ orderId: string; kind: string }[]>().filter((r) => r.kind === 'PAID_AFTER_CLOSE').map((r) => r.orderId);
    expect(listed).toEqual(expect.arrayContaining([live.orderId, gone.orderId]));
  });
});
