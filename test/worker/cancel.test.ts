import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../src/sandbox/testing.js';
import { type TestSystem, createTestSystem } from '../helpers/system.js';
import { closeJobState, timerScheduled, createAtWeChat, dbOrder, expectBalanced, getOrder, grab, ledgerCounts, newGoods, sandboxState, stock, waitForStatus } from './support.js';

/**
 * Buyer cancel (docs/contract.md): 202, then the very close path of a timeout, at once, with
 * closeReason USER_CANCEL. A long payment window here, so only the cancel can close an order.
 */
describe('buyer cancel: POST /seckill/orders/:orderId/cancel', () => {
  let s: TestSystem;
  beforeAll(async () => {
    s = await createTestSystem({ env: { ORDER_TIMEOUT_MS: '60000' } });
  });
  afterAll(async () => s?.close());

  const cancel = (buyer: string | undefined, orderId: string) =>
    s.app.inject({ method: 'POST', url: `/seckill/orders/${orderId}/cancel`, ...(buyer ? { headers: s.buyer(buyer) } : {}) });

  it('202, then CLOSED at WeChat and here with closeReason USER_CANCEL; unit back; the timer is gone', async () => {
    const goodsId = await newGoods(s, 1);
    const order = await grab(s, 'c-1', goodsId);
    await createAtWeChat(s, 'c-1', order.orderId);
    expect(await timerScheduled(s, order.orderId)).toBe('delayed');

    const res = await cancel('c-1', order.orderId);
    expect(res.statusCode, res.body).toBe(202);
    expect(res.json()).toEqual({ orderId: order.orderId, status: 'CLOSING' });

    const closed = await waitForStatus(s, 'c-1', order.orderId, 'CLOSED', 5_000);
    expect(closed.closeReason).toBe('USER_CANCEL');
    expect(await sandboxState(s, order.orderId)).toBe('CLOSED');
    expect(await ledgerCounts(s, order.orderId)).toEqual({ closed: 1, paid: 0 });
    const row = await eventually(async () => ((await dbOrder(s, order.orderId))?.status === 'CLOSED' ? dbOrder(s, order.orderId) : undefined));
    expect(row).toMatchObject({ closeReason: 'USER_CANCEL' });
    expect(row!.closedAt).toBeInstanceOf(Date);
    expect(await stock(s, goodsId)).toEqual({ stockCount: 1, available: 1, held: 0 });
    await eventually(async () => ((await closeJobState(s, order.orderId)) === 'gone' ? true : undefined));

    // cancelling a closed order → 409
    const again = await cancel('c-1', order.orderId);
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: 'ORDER_NOT_CANCELLABLE' });
    // the buyer may grab again
    await grab(s, 'c-1', goodsId);
  });

  it('cancelling a paid order → 409, and it stays paid', async () => {
    const goodsId = await newGoods(s, 2);
    const order = await grab(s, 'c-2', goodsId);
    await createAtWeChat(s, 'c-2', order.orderId);
    expect((await s.sandbox.pay(order.orderId)).status).toBe(200); // notified to our API → RabbitMQ → worker
    await waitForStatus(s, 'c-2', order.orderId, 'PAID');

    const res = await cancel('c-2', order.orderId);
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ code: 'ORDER_NOT_CANCELLABLE' });
    expect((await getOrder(s, 'c-2', order.orderId)).status).toBe('PAID');
    await eventually(async () => ((await dbOrder(s, order.orderId))?.status === 'PAID' ? true : undefined));
    expect(await stock(s, goodsId)).toEqual({ stockCount: 1, available: 1, held: 0 });
    expect(await sandboxState(s, order.orderId)).toBe('SUCCESS');
  });

  it("another buyer's order → 404 (as if unknown), and nothing changes", async () => {
    const goodsId = await newGoods(s, 1);
    const order = await grab(s, 'c-3', goodsId);
    const res = await cancel('intruder', order.orderId);
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'ORDER_NOT_FOUND' });
    expect((await getOrder(s, 'c-3', order.orderId)).status).toBe('UNPAID');
    expect(await timerScheduled(s, order.orderId)).toBe('delayed');
    await expectBalanced(s, goodsId);
  });

  it('unknown order → 404; malformed id → 404; no token → 401', async () => {
    expect((await cancel('c-4', '9999999999999')).statusCode).toBe(404);
    expect((await cancel('c-4', 'not-an-id')).statusCode).toBe(404);
    expect((await cancel(undefined, '9999999999999')).statusCode).toBe(401);
  });

  it('two cancels at once: one close, stock back once', async () => {
    const goodsId = await newGoods(s, 1);
    const order = await grab(s, 'c-5', goodsId);
    await createAtWeChat(s, 'c-5', order.orderId);
    const answers = await Promise.all([cancel('c-5', order.orderId), cancel('c-5', order.orderId)]);
    expect(answers.map((a) => a.statusCode).sort()).toEqual([202, 202]);
    await waitForStatus(s, 'c-5', order.orderId, 'CLOSED', 5_000);
    await eventually(async () => ((await dbOrder(s, order.orderId))?.status === 'CLOSED' ? true : undefined));
    expect(await ledgerCounts(s, order.orderId)).toEqual({ closed: 1, paid: 0 });
    expect(await stock(s, goodsId)).toEqual({ stockCount: 1, available: 1, held: 0 });
  });
});
