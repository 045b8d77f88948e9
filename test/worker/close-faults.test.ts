import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../src/sandbox/testing.js';
import { type TestSystem, createTestSystem } from '../helpers/system.js';
import { counter, createAtWeChat, dbOrder, expectBalanced, grab, ledgerCounts, newGoods, sandboxState, stock, waitForStatus } from './support.js';

const MAX_ATTEMPTS = 6;

interface ReviewJson {
  orderId: string;
  kind: string;
  reason: string;
  status: string;
  order: { status: string };
}

/**
 * WeChat failing while we close (design §4.6): SYSTEMERROR is retried with backoff and ends in
 * review when retries run out; an untrustworthy answer (bad signature) is retried like no answer; nothing is ever
 * rolled back blindly; an admin retries the close once WeChat is well again (§4.8).
 * Faults are global to this file's sandbox, so these tests run one after the other.
 */
describe('order timeout: WeChat faults while closing', () => {
  let s: TestSystem;
  beforeAll(async () => {
    s = await createTestSystem({ env: { CLOSE_MAX_ATTEMPTS: String(MAX_ATTEMPTS), CLOSE_BACKOFF_MS: '150' } });
  });
  afterEach(async () => {
    await s.sandbox.faults({ systemErrorRate: 0, tamper: 'none' });
  });
  afterAll(async () => s?.close());

  const closeCalls = (result: string) => counter(s.workerInfra, 'wechatCalls', { api: 'closeorder', result });
  const reviews = async (status: 'OPEN' | 'RESOLVED') => {
    const res = await s.app.inject({ method: 'GET', url: `/admin/seckill/reviews?status=${status}`, headers: s.admin });
    expect(res.statusCode, res.body).toBe(200);
    return res.json<ReviewJson[]>();
  };

  it('SYSTEMERROR twice, then WeChat recovers → CLOSED once, unit back exactly once', async () => {
    const goodsId = await newGoods(s, 1);
    const order = await grab(s, 'f-1', goodsId);
    await createAtWeChat(s, 'f-1', order.orderId);
    const before = await closeCalls('retryable');
    await s.sandbox.faults({ systemErrorRate: { closeorder: 1 } });
    await eventually(async () => ((await closeCalls('retryable')) - before >= 2 ? true : undefined), 10_000);
    await s.sandbox.faults({ systemErrorRate: 0 });

    const closed = await waitForStatus(s, 'f-1', order.orderId, 'CLOSED');
    expect(closed.closeReason).toBe('TIMEOUT');
    const failures = (await closeCalls('retryable')) - before;
    expect(failures).toBeGreaterThanOrEqual(2);
    expect(failures).toBeLessThan(MAX_ATTEMPTS);
    expect(await ledgerCounts(s, order.orderId)).toEqual({ closed: 1, paid: 0 });
    await eventually(async () => ((await dbOrder(s, order.orderId))?.status === 'CLOSED' ? true : undefined));
    expect(await stock(s, goodsId)).toEqual({ stockCount: 1, available: 1, held: 0 });
    expect((await reviews('OPEN')).find((r) => r.orderId === order.orderId)).toBeUndefined();
  });

  it('SYSTEMERROR on every attempt → NEEDS_REVIEW after CLOSE_MAX_ATTEMPTS, unit still held; admin retry closes it', async () => {
    const goodsId = await newGoods(s, 1);
    const order = await grab(s, 'f-2', goodsId);
    await createAtWeChat(s, 'f-2', order.orderId);
    const before = await closeCalls('retryable');
    await s.sandbox.faults({ systemErrorRate: { closeorder: 1 } });

    await waitForStatus(s, 'f-2', order.orderId, 'NEEDS_REVIEW', 15_000);
    expect((await closeCalls('retryable')) - before).toBe(MAX_ATTEMPTS);
    // nothing rolled back: WeChat still has it open, the unit is still held
    expect(await sandboxState(s, order.orderId)).toBe('NOTPAY');
    expect(await stock(s, goodsId)).toEqual({ stockCount: 1, available: 0, held: 1 });
    await expectBalanced(s, goodsId);
    const row = await eventually(async () => ((await dbOrder(s, order.orderId))?.status === 'NEEDS_REVIEW' ? dbOrder(s, order.orderId) : undefined));
    expect(row!.reviewReason).toMatch(/retries exhausted.*SYSTEMERROR/);

    // GET /admin/seckill/reviews lists it
    const open = (await reviews('OPEN')).find((r) => r.orderId === order.orderId);
    expect(open).toMatchObject({ kind: 'CLOSE_FAILED', status: 'OPEN', order: { status: 'NEEDS_REVIEW' } });
    expect(open!.reason).toMatch(/SYSTEMERROR/);
    // the buyer cannot grab the goods again while the order is in review (one active order)
    const repeat = await s.app.inject({ method: 'POST', url: '/seckill/orders', headers: s.buyer('f-2'), payload: { goodsId } });
    expect(repeat.statusCode).toBe(409);

    // WeChat recovers; the admin retries
    await s.sandbox.faults({ systemErrorRate: 0 });
    const retry = await s.app.inject({ method: 'POST', url: `/admin/seckill/reviews/${order.orderId}/retry`, headers: s.admin });
    expect(retry.statusCode, retry.body).toBe(202);
    const closed = await waitForStatus(s, 'f-2', order.orderId, 'CLOSED');
    expect(closed.closeReason).toBe('TIMEOUT');
    expect(await ledgerCounts(s, order.orderId)).toEqual({ closed: 1, paid: 0 });
    await eventually(async () => ((await dbOrder(s, order.orderId))?.status === 'CLOSED' ? true : undefined));
    expect(await stock(s, goodsId)).toEqual({ stockCount: 1, available: 1, held: 0 });
    expect((await reviews('OPEN')).find((r) => r.orderId === order.orderId)).toBeUndefined();
    expect((await reviews('RESOLVED')).find((r) => r.orderId === order.orderId)).toMatchObject({ kind: 'CLOSE_FAILED', status: 'RESOLVED' });

    // a second retry has nothing left to retry
    const again = await s.app.inject({ method: 'POST', url: `/admin/seckill/reviews/${order.orderId}/retry`, headers: s.admin });
    expect(again.statusCode).toBe(404);
  });

  it('a badly signed closeorder answer is retried like no answer; once answers verify → CLOSED (ORDERCLOSED), no review', async () => {
    const goodsId = await newGoods(s, 1);
    const order = await grab(s, 'f-3', goodsId);
    await createAtWeChat(s, 'f-3', order.orderId);
    const fatal0 = await closeCalls('fatal');
    await s.sandbox.faults({ tamper: { closeorder: 'bad-signature' } });
    await eventually(async () => ((await closeCalls('fatal')) - fatal0 >= 2 ? true : undefined), 10_000);
    // "WeChat" did close it (the tamper spoils the answer after applying the request), but the
    // answer is not believed: the order is still CLOSING, the unit still held
    expect(await sandboxState(s, order.orderId)).toBe('CLOSED');
    expect(await stock(s, goodsId)).toEqual({ stockCount: 1, available: 0, held: 1 });

    await s.sandbox.faults({ tamper: 'none' });
    await waitForStatus(s, 'f-3', order.orderId, 'CLOSED'); // ORDERCLOSED this time
    expect((await closeCalls('fatal')) - fatal0).toBeLessThan(MAX_ATTEMPTS);
    expect(await ledgerCounts(s, order.orderId)).toEqual({ closed: 1, paid: 0 });
    await eventually(async () => ((await dbOrder(s, order.orderId))?.status === 'CLOSED' ? true : undefined));
    expect(await stock(s, goodsId)).toEqual({ stockCount: 1, available: 1, held: 0 });
    expect((await reviews('OPEN')).find((r) => r.orderId === order.orderId)).toBeUndefined();
  });

  it('closeorder answers that never verify → NEEDS_REVIEW after CLOSE_MAX_ATTEMPTS, nothing rolled back; admin retry closes it', async () => {
    const goodsId = await newGoods(s, 1);
    const order = await grab(s, 'f-3b', goodsId);
    await createAtWeChat(s, 'f-3b', order.orderId);
    const fatal0 = await closeCalls('fatal');
    await s.sandbox.faults({ tamper: { closeorder: 'bad-signature' } });

    await waitForStatus(s, 'f-3b', order.orderId, 'NEEDS_REVIEW', 15_000);
    expect((await closeCalls('fatal')) - fatal0).toBe(MAX_ATTEMPTS);
    expect(await stock(s, goodsId)).toEqual({ stockCount: 1, available: 0, held: 1 });
    const open = await eventually(async () => (await reviews('OPEN')).find((r) => r.orderId === order.orderId));
    expect(open.kind).toBe('CLOSE_FAILED');
    expect(open.reason).toMatch(/retries exhausted.*signature/);
    expect(await sandboxState(s, order.orderId)).toBe('CLOSED');

    await s.sandbox.faults({ tamper: 'none' });
    const retry = await s.app.inject({ method: 'POST', url: `/admin/seckill/reviews/${order.orderId}/retry`, headers: s.admin });
    expect(retry.statusCode, retry.body).toBe(202);
    await waitForStatus(s, 'f-3b', order.orderId, 'CLOSED'); // ORDERCLOSED this time
    expect(await stock(s, goodsId)).toEqual({ stockCount: 1, available: 1, held: 0 });
    expect(await ledgerCounts(s, order.orderId)).toEqual({ closed: 1, paid: 0 });
  });

  it('the review retry of an order that is not in review → 404; unauthenticated → 401', async () => {
    const unknown = await s.app.inject({ method: 'POST', url: '/admin/seckill/reviews/123456789012/retry', headers: s.admin });
    expect(unknown.statusCode).toBe(404);
    const anonymous = await s.app.inject({ method: 'GET', url: '/admin/seckill/reviews' });
    expect(anonymous.statusCode).toBe(401);
  });
});
