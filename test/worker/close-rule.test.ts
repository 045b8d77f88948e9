import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../src/sandbox/testing.js';
import { type TestSystem, createTestSystem } from '../helpers/system.js';
import { counter, createAtWeChat, getOrder, grab, ledgerCounts, newGoods, outboxDrained, sandboxState, stock, waitForStatus } from './support.js';

/**
 * design §7 against a sandbox that enforces WeChat's 5-minute close rule as 3 s (time scale
 * 0.01): a close never calls closeorder before the WeChat order is old enough, it waits without
 * using an attempt (4 attempts at 50 ms would otherwise end in review), and /pay and a close
 * never cross.
 */
const RULE_MS = 3_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("WeChat's 5-minute close rule and the pay/close lease", () => {
  let s: TestSystem;
  beforeAll(async () => {
    s = await createTestSystem({
      sandbox: { timeScale: RULE_MS / 300_000 },
      env: { WECHAT_CLOSE_MIN_AGE_MS: String(RULE_MS), ORDER_TIMEOUT_MS: '600000', CLOSE_MAX_ATTEMPTS: '4', CLOSE_BACKOFF_MS: '50' },
    });
  });
  afterAll(async () => s?.close());

  const closeCalls = () => counter(s.workerInfra, 'wechatCalls', { api: 'closeorder' });
  const cancel = async (buyer: string, orderId: string) => {
    const res = await s.app.inject({ method: 'POST', url: `/seckill/orders/${orderId}/cancel`, headers: s.buyer(buyer) });
    expect(res.statusCode, res.body).toBe(202);
  };

  it('a cancel 1 s after /pay waits for the rule (CLOSING with closeAfter), then closes: unit back, no review', async () => {
    const goodsId = await newGoods(s, 1);
    const order = await grab(s, 'rule-1', goodsId);
    const paidAt = Date.now();
    await createAtWeChat(s, 'rule-1', order.orderId);
    await sleep(1_000);
    const callsBefore = await closeCalls();
    await cancel('rule-1', order.orderId);

    await sleep(800);
    const waiting = await getOrder(s, 'rule-1', order.orderId);
    expect(waiting.status).toBe('CLOSING');
    expect(Date.parse(waiting.closeAfter ?? '')).toBeGreaterThanOrEqual(paidAt + RULE_MS);
    expect(await sandboxState(s, order.orderId)).toBe('NOTPAY');
    expect(await closeCalls()).toBe(callsBefore); // not one closeorder yet

    const closed = await waitForStatus(s, 'rule-1', order.orderId, 'CLOSED', 10_000);
    expect(closed.closeReason).toBe('USER_CANCEL');
    const ledger = await s.sandbox.ledger();
    const entry = ledger.closed.find((c) => c.out_trade_no === order.orderId);
    expect(Date.parse(entry?.closed_at ?? '')).toBeGreaterThanOrEqual(paidAt + RULE_MS);
    expect(await closeCalls()).toBe(callsBefore + 1); // once, when allowed: no refused attempt
    expect(await stock(s, goodsId)).toEqual({ stockCount: 1, available: 1, held: 0 });
    expect(await s.infra.core.prisma.reviewItem.count({ where: { orderId: order.orderId } })).toBe(0);
    expect((await s.infra.core.prisma.seckillOrder.findUnique({ where: { id: order.orderId } }))?.status).toBe('CLOSED');
  });

  it('the buyer pays during the wait: the order becomes PAID, nothing is closed', async () => {
    const goodsId = await newGoods(s, 1);
    const order = await grab(s, 'rule-2', goodsId);
    await createAtWeChat(s, 'rule-2', order.orderId);
    await cancel('rule-2', order.orderId);
    await sleep(500);
    expect((await getOrder(s, 'rule-2', order.orderId)).status).toBe('CLOSING');
    expect((await s.sandbox.pay(order.orderId)).status).toBe(200); // the QR code was still open
    await waitForStatus(s, 'rule-2', order.orderId, 'PAID');
    await sleep(RULE_MS); // the close job's wait ends: it finds the order paid
    expect(await ledgerCounts(s, order.orderId)).toEqual({ closed: 0, paid: 1 });
    expect((await getOrder(s, 'rule-2', order.orderId)).status).toBe('PAID');
    await outboxDrained(s, goodsId);
    expect(await stock(s, goodsId)).toEqual({ stockCount: 0, available: 0, held: 0 });
  });

  it('an order never created at WeChat closes at once', async () => {
    const goodsId = await newGoods(s, 1);
    const order = await grab(s, 'rule-3', goodsId);
    const started = Date.now();
    await cancel('rule-3', order.orderId);
    await waitForStatus(s, 'rule-3', order.orderId, 'CLOSED', 2_000);
    expect(Date.now() - started).toBeLessThan(RULE_MS);
  });

  it('a /pay racing a cancel: the WeChat order ends closed (never open behind a closed order), and /pay after the close began is refused', async () => {
    const goodsId = await newGoods(s, 1);
    const order = await grab(s, 'rule-4', goodsId);
    // the barrier: unifiedorder is applied at WeChat at once but answered 800 ms later
    await s.sandbox.faults({ delayMs: { unifiedorder: 800 } });
    try {
      const pay = s.app.inject({ method: 'POST', url: `/seckill/orders/${order.orderId}/pay`, headers: s.buyer('rule-4') });
      await eventually(async () => ((await sandboxState(s, order.orderId)) === 'NOTPAY' ? true : undefined), 2_000);
      await cancel('rule-4', order.orderId); // while /pay is still waiting for WeChat
      await sleep(300);
      expect((await getOrder(s, 'rule-4', order.orderId)).status).toBe('CLOSING');
      expect((await pay).statusCode).toBe(200); // the buyer got a code_url…
      const again = await s.app.inject({ method: 'POST', url: `/seckill/orders/${order.orderId}/pay`, headers: s.buyer('rule-4') });
      expect(again.statusCode).toBe(409); // …but no new /pay once the close has begun
      expect(again.json<{ code: string }>().code).toBe('ORDER_NOT_PAYABLE');
    } finally {
      await s.sandbox.faults({ delayMs: 0 });
    }
    await waitForStatus(s, 'rule-4', order.orderId, 'CLOSED', 10_000);
    expect(await sandboxState(s, order.orderId)).toBe('CLOSED');
    expect(await ledgerCounts(s, order.orderId)).toEqual({ closed: 1, paid: 0 });
    expect(await stock(s, goodsId)).toEqual({ stockCount: 1, available: 1, held: 0 });
  });
});
