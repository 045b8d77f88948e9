import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeOrder } from '../../src/domain/orders/close.js';
import { Transition } from '../../src/domain/orders/transition-codes.js';
import { orderTransitions } from '../../src/domain/orders/transitions.js';
import { WeChatPayClient } from '../../src/infra/wechat/client.js';
import { eventually } from '../../src/sandbox/testing.js';
import { type TestSystem, createTestSystem } from '../helpers/system.js';
import {
  closeJobState,
  createAtWeChat,
  dbOrder,
  expectBalanced,
  grab,
  ledgerCounts,
  newGoods,
  outboxDrained,
  reserveWithoutJob,
  sandboxState,
  stock,
  waitForStatus,
} from './support.js';

/**
 * The timeout path (design §4.6) end to end: the delayed job fires in the in-process workers,
 * closes at the sandbox over HTTP, then the Lua close puts the unit back and MySQL records it.
 */
/** WeChat's 5-minute close rule in the test sandbox (time scale 0.001), plus a margin. */
const CLOSE_RULE_MS = 350;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('order timeout: close outcomes', () => {
  let s: TestSystem;
  beforeAll(async () => {
    s = await createTestSystem();
  });
  afterAll(async () => s?.close());

  it('closes an unpaid order at WeChat, records it CLOSED/TIMEOUT in MySQL and puts the unit back', async () => {
    const goodsId = await newGoods(s, 1);
    const order = await grab(s, 'buyer-a', goodsId);
    await createAtWeChat(s, 'buyer-a', order.orderId);
    expect(await stock(s, goodsId)).toEqual({ stockCount: 1, available: 0, held: 1 });

    const closed = await waitForStatus(s, 'buyer-a', order.orderId, 'CLOSED');
    expect(closed.closeReason).toBe('TIMEOUT');

    // WeChat's side: closed, exactly once, never paid
    expect(await sandboxState(s, order.orderId)).toBe('CLOSED');
    expect(await ledgerCounts(s, order.orderId)).toEqual({ closed: 1, paid: 0 });

    // MySQL
    const row = await eventually(async () => ((await dbOrder(s, order.orderId))?.status === 'CLOSED' ? dbOrder(s, order.orderId) : undefined));
    expect(row).toMatchObject({ status: 'CLOSED', closeReason: 'TIMEOUT', userId: 'buyer-a', money: 100 });
    expect(row!.closedAt).toBeInstanceOf(Date);
    expect(row!.closedAt!.getTime()).toBeGreaterThanOrEqual(new Date(order.deadline).getTime());

    // the unit is back on sale, the timer is gone, and the same buyer can grab again
    expect(await stock(s, goodsId)).toEqual({ stockCount: 1, available: 1, held: 0 });
    expect(await closeJobState(s, order.orderId)).toBe('gone');
    const again = await grab(s, 'buyer-a', goodsId);
    expect(again.orderId).not.toBe(order.orderId);
    await waitForStatus(s, 'buyer-a', again.orderId, 'CLOSED');
    await expectBalanced(s, goodsId);
  });

  it('ORDERCLOSED (already closed at WeChat by someone else) → CLOSED, unit back', async () => {
    const goodsId = await newGoods(s, 1);
    const order = await grab(s, 'buyer-b', goodsId);
    await createAtWeChat(s, 'buyer-b', order.orderId);
    // close it at "WeChat" behind our back, with a client of our own (WeChat's 5-minute rule,
    // 300 ms in the test sandbox, applies to everyone)
    await sleep(CLOSE_RULE_MS);
    const outsider = new WeChatPayClient({ ...s.config.wechat, baseUrl: s.sandbox.url });
    try {
      expect((await outsider.closeOrder(order.orderId)).kind).toBe('ok');
    } finally {
      await outsider.close();
    }
    const closed = await waitForStatus(s, 'buyer-b', order.orderId, 'CLOSED');
    expect(closed.closeReason).toBe('TIMEOUT');
    expect(await ledgerCounts(s, order.orderId)).toEqual({ closed: 1, paid: 0 });
    await eventually(async () => ((await dbOrder(s, order.orderId))?.status === 'CLOSED' ? true : undefined));
    expect(await stock(s, goodsId)).toEqual({ stockCount: 1, available: 1, held: 0 });
  });

  it('ORDERNOTEXIST (the buyer never asked to pay: no unifiedorder) → CLOSED, unit back', async () => {
    const goodsId = await newGoods(s, 1);
    const order = await grab(s, 'buyer-c', goodsId);
    await waitForStatus(s, 'buyer-c', order.orderId, 'CLOSED');
    expect(await sandboxState(s, order.orderId)).toBeUndefined(); // WeChat never heard of it
    await eventually(async () => ((await dbOrder(s, order.orderId))?.status === 'CLOSED' ? true : undefined));
    expect(await stock(s, goodsId)).toEqual({ stockCount: 1, available: 1, held: 0 });
  });

  it('ORDERPAID because the buyer paid while we were closing (payDuringClose) → PAID, sold once', async () => {
    const goodsId = await newGoods(s, 3, 250);
    const order = await grab(s, 'buyer-d', goodsId);
    await createAtWeChat(s, 'buyer-d', order.orderId);
    await s.sandbox.faults({ payDuringClose: [order.orderId] });

    const paid = await waitForStatus(s, 'buyer-d', order.orderId, 'PAID');
    expect(paid.payTime).toBeDefined();
    // the close path and the notification path (the sandbox also notifies) both ran: sold once
    const row = await eventually(async () => ((await dbOrder(s, order.orderId))?.status === 'PAID' ? dbOrder(s, order.orderId) : undefined));
    expect(row!.closedAt).toBeNull();
    const events = await s.infra.core.prisma.paymentEvent.findMany({ where: { orderId: order.orderId } });
    expect(events).toHaveLength(1);
    expect(await ledgerCounts(s, order.orderId)).toEqual({ closed: 0, paid: 1 });
    // let any duplicate delivery land, then check the durable decrement happened once
    await new Promise((r) => setTimeout(r, 300));
    expect(await stock(s, goodsId)).toEqual({ stockCount: 2, available: 2, held: 0 });
  });

  describe('the close handler is idempotent', () => {
    it('run twice in a row: the second run finds it closed; stock back once', async () => {
      const goodsId = await newGoods(s, 2);
      // no timeout job: only our direct calls close it
      const orderId = await reserveWithoutJob(s, 'buyer-e', goodsId, 60_000);
      const deps = s.workerInfra.core;
      expect(await stock(s, goodsId)).toEqual({ stockCount: 2, available: 1, held: 1 });
      expect(await closeOrder(deps, { orderId, goodsId, lastAttempt: false })).toBe('closed');
      expect(await closeOrder(deps, { orderId, goodsId, lastAttempt: false })).toBe('nothing-to-do');
      expect(await stock(s, goodsId)).toEqual({ stockCount: 2, available: 2, held: 0 });
      expect((await dbOrder(s, orderId))?.status).toBe('CLOSED');
      expect(await ledgerCounts(s, orderId)).toEqual({ closed: 0, paid: 0 }); // ORDERNOTEXIST: nothing to close
    });

    it('run concurrently (8 runs of one order at once): stock back once, closed once at WeChat', async () => {
      const goodsId = await newGoods(s, 2);
      const orderId = await reserveWithoutJob(s, 'buyer-f', goodsId, 60_000);
      // it exists at WeChat, so exactly one close may succeed there
      const wechat = new WeChatPayClient({ ...s.config.wechat, baseUrl: s.sandbox.url });
      try {
        const created = await wechat.unifiedOrder({ outTradeNo: orderId, totalFee: 100, body: 'x', productId: goodsId, notifyUrl: s.config.wechat.notifyUrl });
        expect(created.kind).toBe('ok');
      } finally {
        await wechat.close();
      }
      await sleep(CLOSE_RULE_MS); // created behind /pay's back: our close cannot know its age
      const deps = s.workerInfra.core;
      const runs = await Promise.allSettled(Array.from({ length: 8 }, () => closeOrder(deps, { orderId, goodsId, lastAttempt: false })));
      // a run may lose a MySQL insert race and throw (BullMQ would run it again); none may do harm
      const outcomes = runs.map((r) => (r.status === 'fulfilled' ? r.value : `error: ${(r.reason as Error).message}`));
      expect(outcomes.filter((o) => o === 'closed').length, JSON.stringify(outcomes)).toBeGreaterThanOrEqual(1);
      expect(outcomes.every((o) => o === 'closed' || o === 'nothing-to-do'), JSON.stringify(outcomes)).toBe(true);
      // and a late duplicate
      expect(await closeOrder(deps, { orderId, goodsId, lastAttempt: true })).toBe('nothing-to-do');
      expect(await stock(s, goodsId)).toEqual({ stockCount: 2, available: 2, held: 0 });
      expect(await ledgerCounts(s, orderId)).toEqual({ closed: 1, paid: 0 });
      expect((await dbOrder(s, orderId))?.status).toBe('CLOSED');
    });

    it('a run that died right after the Redis close: the outbox takes it to MySQL, the re-run does nothing', async () => {
      const goodsId = await newGoods(s, 1);
      const orderId = await reserveWithoutJob(s, 'buyer-g', goodsId, 60_000);
      const deps = s.workerInfra.core;
      // the first run's Redis steps, then "kill -9" before anything else
      await orderTransitions(deps, orderId, goodsId).beginClose('TIMEOUT');
      expect(await orderTransitions(deps, orderId, goodsId).closeWithRestock()).toBe(Transition.Done);
      await eventually(async () => ((await dbOrder(s, orderId))?.status === 'CLOSED' ? true : undefined));
      expect(await closeOrder(deps, { orderId, goodsId, lastAttempt: false })).toBe('nothing-to-do');
      expect(await dbOrder(s, orderId)).toMatchObject({ status: 'CLOSED', closeReason: 'TIMEOUT' });
      expect(await stock(s, goodsId)).toEqual({ stockCount: 1, available: 1, held: 0 });
    });
  });

  describe('queues.removeCloseJob (what a payment does to the timer)', () => {
    it('is harmless while the job is running: the job finishes the close', async () => {
      const goodsId = await newGoods(s, 1);
      const order = await grab(s, 'buyer-h', goodsId);
      await createAtWeChat(s, 'buyer-h', order.orderId);
      await s.sandbox.faults({ delayMs: { closeorder: 800 } });
      try {
        // the sandbox applies the close, then holds the answer: the job is mid-closeorder
        await eventually(async () => ((await sandboxState(s, order.orderId)) === 'CLOSED' ? true : undefined), 5_000);
        expect(await closeJobState(s, order.orderId)).toBe('active');
        expect(await s.infra.core.queues.removeCloseJob(order.orderId)).toBe(false);
        await waitForStatus(s, 'buyer-h', order.orderId, 'CLOSED');
      } finally {
        await s.sandbox.faults({ delayMs: 0 });
      }
      expect(await stock(s, goodsId)).toEqual({ stockCount: 1, available: 1, held: 0 });
    });

    it('is harmless when the job is gone (completed, or never existed)', async () => {
      const goodsId = await newGoods(s, 1);
      const order = await grab(s, 'buyer-i', goodsId);
      await waitForStatus(s, 'buyer-i', order.orderId, 'CLOSED');
      await eventually(async () => ((await closeJobState(s, order.orderId)) === 'gone' ? true : undefined));
      // BullMQ's remove answers 1 for an id it does not know: only "no throw, no effect" matters
      await expect(s.infra.core.queues.removeCloseJob(order.orderId)).resolves.toBeTypeOf('boolean');
      await expect(s.infra.core.queues.removeCloseJob('1234567890123')).resolves.toBeTypeOf('boolean');
      await outboxDrained(s, goodsId);
      expect(await getStatus(order.orderId)).toBe('CLOSED');
      expect(await stock(s, goodsId)).toEqual({ stockCount: 1, available: 1, held: 0 });
    });

    it('removes a waiting timer (the paid case)', async () => {
      const goodsId = await newGoods(s, 1);
      const orderId = await reserveWithoutJob(s, 'buyer-j', goodsId, 60_000);
      await s.infra.core.queues.scheduleClose({ orderId, goodsId }, 60_000);
      expect(await closeJobState(s, orderId)).toBe('delayed');
      expect(await s.infra.core.queues.removeCloseJob(orderId)).toBe(true);
      expect(await closeJobState(s, orderId)).toBe('gone');
    });
  });

  async function getStatus(orderId: string): Promise<string | undefined> {
    return (await dbOrder(s, orderId))?.status;
  }
});
