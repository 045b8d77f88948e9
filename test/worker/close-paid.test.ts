import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeOrder } from '../../src/domain/orders/close.js';
import { Transition } from '../../src/domain/orders/transition-codes.js';
import { orderTransitions } from '../../src/domain/orders/transitions.js';
import { WeChatPayClient } from '../../src/infra/wechat/client.js';
import { eventually } from '../../src/sandbox/testing.js';
import { freePort } from '../helpers/redis-server.js';
import { type TestSystem, createTestSystem } from '../helpers/system.js';
import { createAtWeChat, dbOrder, expectBalanced, grab, ledgerCounts, newGoods, paymentJobsOf, reserveWithoutJob, stock, waitForStatus } from './support.js';

/**
 * The pay/timeout race seen from the timer: the buyer paid at WeChat but no notification
 * reached us (notify_url points at a closed port), so only the close path can find out.
 * closeorder answers ORDERPAID; orderquery gives the transaction; the order is sold, once.
 */
describe('order timeout: the buyer paid but we were never told', () => {
  let s: TestSystem;
  beforeAll(async () => {
    const closedPort = await freePort();
    s = await createTestSystem({ env: { WECHAT_NOTIFY_URL: `http://127.0.0.1:${closedPort}/pay/wechat/notify` } });
  });
  afterAll(async () => s?.close());

  it('ORDERPAID → orderquery says REFUND (paid, then refunded at WeChat): a review, not a sale; the unit stays held', async () => {
    const goodsId = await newGoods(s, 3, 990);
    const orderId = await reserveWithoutJob(s, 'payer-refunded', goodsId, 60_000);
    await createAtWeChat(s, 'payer-refunded', orderId);
    expect((await s.sandbox.pay(orderId)).status).toBe(200);
    expect((await s.sandbox.control('POST', '/sandbox/refund', { out_trade_no: orderId, out_refund_no: `MANUAL-${orderId}` })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 400)); // WeChat's close rule, scaled (300 ms here)
    expect(await closeOrder(s.workerInfra.core, { orderId, goodsId, lastAttempt: true })).toBe('review');
    const order = await waitForStatus(s, 'payer-refunded', orderId, 'NEEDS_REVIEW');
    expect(order.status).toBe('NEEDS_REVIEW');
    expect(await stock(s, goodsId)).toEqual({ stockCount: 3, available: 2, held: 1 });
    const item = await eventually(async () => (await s.infra.core.prisma.reviewItem.findFirst({ where: { orderId, kind: 'CLOSE_FAILED' } })) ?? undefined);
    expect(item.reason).toMatch(/trade_state REFUND/);
  });

  it('ORDERPAID → orderquery → PAID, durable stock decremented once, nothing restocked', async () => {
    const goodsId = await newGoods(s, 3, 990);
    const order = await grab(s, 'payer-1', goodsId);
    await createAtWeChat(s, 'payer-1', order.orderId);
    const paidAtWeChat = await s.sandbox.pay(order.orderId);
    expect(paidAtWeChat.status).toBe(200);
    const transactionId = paidAtWeChat.body.transaction_id as string;

    // no buyer GET until then (a GET would look the order up itself, test/payments/lost-notification)
    const k = s.infra.core.keys.forGoods(goodsId);
    await eventually(async () => ((await s.infra.core.redis.hget(k.order(order.orderId), 'status')) === 'PAID' ? true : undefined), 10_000, 20);
    const paid = await waitForStatus(s, 'payer-1', order.orderId, 'PAID');
    expect(paid.payTime).toBeDefined();
    expect(paid.closeReason).toBe('TIMEOUT'); // it was CLOSING when WeChat said it was paid

    // our notification did not do it: every delivery failed and no payment job was ever added
    const ledger = await s.sandbox.ledger();
    const deliveries = ledger.notifications.filter((n) => n.out_trade_no === order.orderId);
    expect(deliveries.length).toBeGreaterThan(0);
    expect(deliveries.every((n) => n.outcome !== 'SUCCESS')).toBe(true);
    expect(await paymentJobsOf(s.infra, order.orderId)).toEqual([]);

    const row = await eventually(async () => ((await dbOrder(s, order.orderId))?.status === 'PAID' ? dbOrder(s, order.orderId) : undefined));
    expect(row).toMatchObject({ status: 'PAID', transactionId, money: 990, closedAt: null });
    const events = await s.infra.core.prisma.paymentEvent.findMany({ where: { orderId: order.orderId } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ transactionId, totalFee: 990, resultCode: 'SUCCESS' });
    expect((events[0]!.payload as Record<string, string>).trade_state).toBe('SUCCESS'); // an orderquery answer, not a notification

    expect(await ledgerCounts(s, order.orderId)).toEqual({ closed: 0, paid: 1 });
    expect(await stock(s, goodsId)).toEqual({ stockCount: 2, available: 2, held: 0 });

    // a duplicate run of the timer changes nothing
    expect(await closeOrder(s.workerInfra.core, { orderId: order.orderId, goodsId, lastAttempt: true })).toBe('nothing-to-do');
    expect(await stock(s, goodsId)).toEqual({ stockCount: 2, available: 2, held: 0 });
    await expectBalanced(s, goodsId);
  });

  it('a run that died right after marking PAID in Redis: the outbox takes it to MySQL, the re-run does nothing', async () => {
    const goodsId = await newGoods(s, 2, 500);
    const orderId = await reserveWithoutJob(s, 'payer-2', goodsId, 60_000);
    const wechat = new WeChatPayClient({ ...s.config.wechat, baseUrl: s.sandbox.url });
    try {
      expect((await wechat.unifiedOrder({ outTradeNo: orderId, totalFee: 500, body: 'x', productId: goodsId, notifyUrl: s.config.wechat.notifyUrl })).kind).toBe('ok');
    } finally {
      await wechat.close();
    }
    const { body } = await s.sandbox.pay(orderId);
    const deps = s.workerInfra.core;
    const transactionId = body.transaction_id as string;
    // the first run's Redis steps, then "kill -9": nothing after markPaid ran
    await orderTransitions(deps, orderId, goodsId).beginClose('TIMEOUT');
    const payment = { transactionId, totalFee: 500, payTimeMs: Date.now(), fields: { out_trade_no: orderId, transaction_id: transactionId, total_fee: '500', result_code: 'SUCCESS' } };
    expect(await orderTransitions(deps, orderId, goodsId).markPaid(payment, 'late')).toBe(Transition.Done);

    const row = await eventually(async () => ((await dbOrder(s, orderId))?.status === 'PAID' ? dbOrder(s, orderId) : undefined));
    expect(row).toMatchObject({ status: 'PAID', transactionId, saleCounted: true });
    expect(await closeOrder(deps, { orderId, goodsId, lastAttempt: false })).toBe('nothing-to-do');
    expect(await stock(s, goodsId)).toEqual({ stockCount: 1, available: 1, held: 0 });
    expect(await s.infra.core.prisma.paymentEvent.count({ where: { orderId } })).toBe(1);
  });
});
