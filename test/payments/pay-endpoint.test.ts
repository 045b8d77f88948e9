import { eventually } from '../../src/sandbox/testing.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { jobId } from '../../src/infra/queues/catalogue.js';
import { fromBeijingTime, toBeijingTime } from '../../src/infra/wechat/time.js';
import { type TestSystem, createTestSystem } from '../helpers/system.js';
import { type Goods, createGoods, getOrder, grab, pay, stock, waitForStatus } from './support.js';
import { outboxDrained } from '../worker/support.js';

/**
 * POST /seckill/orders/:orderId/pay against the sandbox over HTTP: the unifiedorder request is
 * derived from the order only, re-entry gives the same code_url, and WeChat failures leave the
 * order exactly as it was.
 */
describe('POST /seckill/orders/:orderId/pay', () => {
  let s: TestSystem;
  let goods: Goods;

  beforeAll(async () => {
    // a long window: nothing times out while these tests look at UNPAID orders
    s = await createTestSystem({ env: { ORDER_TIMEOUT_MS: '120000' } });
    goods = await createGoods(s, 1990, 20, '秒杀 iPhone');
  });
  afterAll(async () => s?.close());
  afterEach(async () => {
    await s.sandbox.faults({ systemErrorRate: 0, dropRate: 0, delayMs: 0, tamper: 'none' });
  });

  it('creates the NATIVE order at WeChat from the order itself; paying again gives the same code_url', async () => {
    const order = await grab(s, 'pay-a', goods.id);
    const first = await pay(s, 'pay-a', order.orderId);
    expect(first.statusCode, first.body).toBe(200);
    const { codeUrl, outTradeNo } = first.json<{ codeUrl: string; outTradeNo: string }>();
    expect(codeUrl).toMatch(/^weixin:\/\/wxpay\/bizpayurl\?pr=/);
    expect(outTradeNo).toBe(order.orderId);

    const again = await pay(s, 'pay-a', order.orderId);
    expect(again.statusCode, again.body).toBe(200);
    expect(again.json()).toEqual({ codeUrl, outTradeNo });

    const atWeChat = await s.sandbox.order(order.orderId);
    expect(atWeChat.status).toBe(200);
    expect(atWeChat.body).toMatchObject({ trade_state: 'NOTPAY', total_fee: goods.price, code_url: codeUrl, trade_type: 'NATIVE' });
    const sent = atWeChat.body.request as Record<string, string>;
    expect(sent).toMatchObject({
      out_trade_no: order.orderId,
      total_fee: String(order.money),
      product_id: goods.id,
      trade_type: 'NATIVE',
      notify_url: s.config.wechat.notifyUrl,
      time_expire: toBeijingTime(new Date(order.deadline)),
      time_start: toBeijingTime(new Date(order.createTime)),
    });
    expect(order.money).toBe(goods.price);
    expect(s.config.wechat.notifyUrl).toBe(`${s.apiUrl}/pay/wechat/notify`);
    // Beijing time (UTC+8), to the second: it reads back as the order's deadline
    expect(fromBeijingTime(sent.time_expire ?? '')?.getTime()).toBe(Math.floor(Date.parse(order.deadline) / 1000) * 1000);
    expect(Number(sent.time_expire?.slice(8, 10))).toBe((new Date(order.deadline).getUTCHours() + 8) % 24);
    expect(sent.body).toContain('秒杀 iPhone');
    expect(sent.spbill_create_ip).toBeTruthy();
  });

  it('answers 404 for another buyer’s order and for unknown orders, and creates nothing at WeChat', async () => {
    const order = await grab(s, 'pay-owner', goods.id);
    for (const [buyer, id] of [
      ['pay-intruder', order.orderId],
      ['pay-owner', '123456789012345678'],
      ['pay-owner', 'not-an-id'],
    ] as const) {
      const res = await pay(s, buyer, id);
      expect(res.statusCode, `${buyer} ${id}: ${res.body}`).toBe(404);
      expect(res.json().code).toBe('ORDER_NOT_FOUND');
    }
    expect((await s.sandbox.order(order.orderId)).status).toBe(404);
    expect((await getOrder(s, 'pay-owner', order.orderId)).status).toBe('UNPAID');
    const anonymous = await s.app.inject({ method: 'POST', url: `/seckill/orders/${order.orderId}/pay` });
    expect(anonymous.statusCode).toBe(401);
  });

  it('refuses with 409 ORDER_NOT_PAYABLE once the order is paid or closed', async () => {
    const paid = await grab(s, 'pay-paid', goods.id);
    expect((await pay(s, 'pay-paid', paid.orderId)).statusCode).toBe(200);
    expect((await s.sandbox.pay(paid.orderId)).status).toBe(200);
    await waitForStatus(s, 'pay-paid', paid.orderId, 'PAID');
    const afterPaid = await pay(s, 'pay-paid', paid.orderId);
    expect(afterPaid.statusCode, afterPaid.body).toBe(409);
    expect(afterPaid.json().code).toBe('ORDER_NOT_PAYABLE');

    const cancelled = await grab(s, 'pay-cancel', goods.id);
    expect((await pay(s, 'pay-cancel', cancelled.orderId)).statusCode).toBe(200);
    const cancel = await s.app.inject({ method: 'POST', url: `/seckill/orders/${cancelled.orderId}/cancel`, headers: s.buyer('pay-cancel') });
    expect(cancel.statusCode, cancel.body).toBe(202);
    await waitForStatus(s, 'pay-cancel', cancelled.orderId, 'CLOSED');
    const afterClose = await pay(s, 'pay-cancel', cancelled.orderId);
    expect(afterClose.statusCode, afterClose.body).toBe(409);
    expect(afterClose.json().code).toBe('ORDER_NOT_PAYABLE');
    expect((await s.sandbox.order(cancelled.orderId)).body.trade_state).toBe('CLOSED');

    // once the order has left Redis, MySQL still says it is not payable
    await outboxDrained(s, goods.id);
    const goodsKeys = s.infra.core.keys.forGoods(goods.id);
    await s.infra.core.redis.del(goodsKeys.order(cancelled.orderId));
    const fromMysql = await pay(s, 'pay-cancel', cancelled.orderId);
    expect(fromMysql.statusCode, fromMysql.body).toBe(409);
    expect(fromMysql.json().code).toBe('ORDER_NOT_PAYABLE');
    expect((await pay(s, 'pay-intruder', cancelled.orderId)).statusCode).toBe(404);
  });

  it('maps WeChat failures to 503 (SYSTEMERROR, dropped answer) and 502 (bad signature), leaving the order unchanged', async () => {
    const order = await grab(s, 'pay-faults', goods.id);
    const before = await stock(s, goods.id);
    const timeoutJob = () => s.infra.core.queues.byName['order-timeout'].getJob(jobId.closeOrder(order.orderId));
    await eventually(async () => (await timeoutJob()) ?? undefined, 5_000, 20); // the timer pump's work
    const unchanged = async () => {
      expect(await getOrder(s, 'pay-faults', order.orderId)).toEqual(order);
      expect(await stock(s, goods.id)).toEqual(before);
      expect(await (await timeoutJob())?.getState()).toBe('delayed');
    };

    await s.sandbox.faults({ systemErrorRate: { unifiedorder: 1 } });
    const systemError = await pay(s, 'pay-faults', order.orderId);
    expect(systemError.statusCode, systemError.body).toBe(503);
    expect(systemError.json().code).toBe('PAYMENT_PROVIDER_UNAVAILABLE');
    expect((await s.sandbox.order(order.orderId)).status).toBe(404); // SYSTEMERROR: nothing applied
    await unchanged();

    await s.sandbox.faults({ systemErrorRate: 0, dropRate: { unifiedorder: 1 } });
    const dropped = await pay(s, 'pay-faults', order.orderId);
    expect(dropped.statusCode, dropped.body).toBe(503);
    expect(dropped.json().code).toBe('PAYMENT_PROVIDER_UNAVAILABLE');
    await unchanged();

    await s.sandbox.faults({ dropRate: 0, tamper: { unifiedorder: 'bad-signature' } });
    const forged = await pay(s, 'pay-faults', order.orderId);
    expect(forged.statusCode, forged.body).toBe(502);
    expect(forged.json()).toMatchObject({ code: 'PAYMENT_PROVIDER_ERROR' });
    expect(forged.body).not.toContain('weixin://'); // nothing from an untrusted answer reaches the buyer
    await unchanged();

    // the dropped answer had created the order at WeChat: paying again re-enters it
    await s.sandbox.faults({ tamper: 'none' });
    const ok = await pay(s, 'pay-faults', order.orderId);
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json().codeUrl).toBe((await s.sandbox.order(order.orderId)).body.code_url);
    await unchanged();
  });
});
