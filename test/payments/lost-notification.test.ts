import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../src/sandbox/testing.js';
import { type TestSystem, createTestSystem } from '../helpers/system.js';
import { counter, outboxDrained } from '../worker/support.js';
import { type Goods, createGoods, getOrder, grab, pay } from './support.js';

/**
 * design §7: WeChat does not guarantee its notification. With the sandbox dropping every one,
 * a paid order is still found: by the buyer's GET (orderquery, rate-limited per order) or by the
 * lookup job some time after /pay — and takes the payment path exactly like a notification.
 */
describe('lost payment notifications', () => {
  let s: TestSystem;
  let goods: Goods;

  beforeAll(async () => {
    s = await createTestSystem({
      env: { ORDER_TIMEOUT_MS: '600000', PAYMENT_LOOKUP_AFTER_MS: '700', PAYMENT_LOOKUP_MIN_INTERVAL_MS: '2000' },
    });
    await s.sandbox.faults({ dropNotifications: true });
    goods = await createGoods(s, 300, 10, 'lost');
  });
  afterAll(async () => s?.close());

  const orderqueries = () => counter(s.infra, 'wechatCalls', { api: 'orderquery' });
  const notificationsOf = async (orderId: string) => (await s.sandbox.ledger()).notifications.filter((n) => n.out_trade_no === orderId);

  it("the buyer's GET finds a payment whose notification never came: PAID, persisted, stock sold once", async () => {
    const order = await grab(s, 'lost-1', goods.id);
    expect((await pay(s, 'lost-1', order.orderId)).statusCode).toBe(200);
    const paid = await s.sandbox.pay(order.orderId);
    expect((await s.sandbox.order(order.orderId)).body.notification).toBe('dropped');

    const seen = await getOrder(s, 'lost-1', order.orderId);
    expect(seen.status).toBe('PAID');
    expect(await notificationsOf(order.orderId)).toEqual([]);
    await outboxDrained(s, goods.id);
    const row = await s.infra.core.prisma.seckillOrder.findUnique({ where: { id: order.orderId } });
    expect(row).toMatchObject({ status: 'PAID', transactionId: paid.body.transaction_id, saleCounted: true });
  });

  it('asks WeChat at most once per order per interval, however often the buyer looks', async () => {
    const order = await grab(s, 'lost-2', goods.id);
    expect((await pay(s, 'lost-2', order.orderId)).statusCode).toBe(200);
    const before = await orderqueries();
    for (let i = 0; i < 5; i += 1) expect((await getOrder(s, 'lost-2', order.orderId)).status).toBe('UNPAID');
    expect(await orderqueries()).toBe(before + 1);
  });

  it('the lookup job after /pay finds it without anyone looking', async () => {
    const order = await grab(s, 'lost-3', goods.id);
    expect((await pay(s, 'lost-3', order.orderId)).statusCode).toBe(200);
    await s.sandbox.pay(order.orderId);
    const k = s.infra.core.keys.forGoods(goods.id);
    // no GET here: only the job can find it
    await eventually(async () => ((await s.infra.core.redis.hget(k.order(order.orderId), 'status')) === 'PAID' ? true : undefined), 10_000, 50);
    expect(await notificationsOf(order.orderId)).toEqual([]);
  });

  it('an order nobody paid is looked up again later (doubling), and never marked paid', async () => {
    const order = await grab(s, 'lost-4', goods.id);
    const before = await counter(s.workerInfra, 'wechatCalls', { api: 'orderquery' });
    expect((await pay(s, 'lost-4', order.orderId)).statusCode).toBe(200);
    // looks at +0.7 s and +2.1 s (0.7 + 1.4)
    await eventually(async () => ((await counter(s.workerInfra, 'wechatCalls', { api: 'orderquery' })) >= before + 2 ? true : undefined), 10_000, 50);
    const k = s.infra.core.keys.forGoods(goods.id);
    expect(await s.infra.core.redis.hget(k.order(order.orderId), 'status')).toBe('UNPAID');
  });
});
