import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestSystem, createTestSystem } from '../helpers/system.js';
import { type Goods, createGoods, getOrder, grab, notificationXml, pay, paymentPipelineIdle, postNotify, transactionId, waitForStatus } from '../payments/support.js';
import { outboxDrained } from '../worker/support.js';

/**
 * POST /admin/seckill/reviews/:orderId/resolve (design §7): each outcome settles Redis at once
 * (stock, held units, the buyer free to grab again) and reaches MySQL with the outcome.
 */
describe('resolving a review', () => {
  let s: TestSystem;
  let goods: Goods;

  beforeAll(async () => {
    s = await createTestSystem({ env: { ORDER_TIMEOUT_MS: '300', CLOSE_MAX_ATTEMPTS: '3', CLOSE_BACKOFF_MS: '20' } });
    // every close fails: orders due go to review (CLOSE_FAILED), holding their unit
    await s.sandbox.faults({ systemErrorRate: { closeorder: 1 } });
    goods = await createGoods(s, 500, 10, 'reviews');
  });
  afterAll(async () => s?.close());

  const resolve = (orderId: string, payload: unknown) =>
    s.app.inject({ method: 'POST', url: `/admin/seckill/reviews/${orderId}/resolve`, headers: s.admin, payload: payload as Record<string, unknown> });
  const figures = async () => {
    await outboxDrained(s, goods.id);
    const res = await s.app.inject({ method: 'GET', url: `/admin/seckill/goods/${goods.id}`, headers: s.admin });
    const g = res.json<{ stockCount: number; available: number }>();
    return { stockCount: g.stockCount, available: g.available, held: await s.infra.core.redis.zcard(s.infra.core.keys.forGoods(goods.id).held) };
  };
  const inReview = async (buyer: string) => {
    const order = await grab(s, buyer, goods.id);
    await waitForStatus(s, buyer, order.orderId, 'NEEDS_REVIEW', 10_000);
    return order;
  };
  const grabAgain = (buyer: string) => s.app.inject({ method: 'POST', url: '/seckill/orders', headers: s.buyer(buyer), payload: { goodsId: goods.id } });
  const itemsOf = (orderId: string) => s.infra.core.prisma.reviewItem.findMany({ where: { orderId } });

  it('RESTOCK: the unit goes back on sale, the order is CLOSED, the buyer may grab again', async () => {
    const order = await inReview('r-restock');
    const before = await figures();
    expect(before.held).toBeGreaterThanOrEqual(1);
    expect((await grabAgain('r-restock')).json<{ code: string }>().code).toBe('REPEAT_ORDER');

    const res = await resolve(order.orderId, { outcome: 'RESTOCK' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ orderId: order.orderId, outcome: 'RESTOCK', status: 'CLOSED' });
    expect(await figures()).toEqual({ stockCount: before.stockCount, available: before.available + 1, held: before.held - 1 });
    const items = await itemsOf(order.orderId);
    expect(items.map((i) => [i.kind, i.status, i.outcome])).toEqual([['CLOSE_FAILED', 'RESOLVED', 'RESTOCK']]);
    expect(items[0]?.resolvedAt).toBeInstanceOf(Date);
    expect((await s.infra.core.prisma.seckillOrder.findUnique({ where: { id: order.orderId } }))?.status).toBe('CLOSED');

    const again = await grabAgain('r-restock');
    expect(again.statusCode, again.body).toBe(201);
    await waitForStatus(s, 'r-restock', again.json<{ orderId: string }>().orderId, 'NEEDS_REVIEW', 10_000); // (every close fails here)
  });

  it('SOLD: the unit stays sold, durable stock −1, the order is PAID, the buyer is free', async () => {
    const order = await inReview('r-sold');
    const before = await figures();
    const res = await resolve(order.orderId, { outcome: 'SOLD' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ outcome: 'SOLD', status: 'PAID' });
    expect(await figures()).toEqual({ stockCount: before.stockCount - 1, available: before.available, held: before.held - 1 });
    expect(await s.infra.core.prisma.seckillOrder.findUnique({ where: { id: order.orderId } })).toMatchObject({ status: 'PAID', saleCounted: true });
    expect((await grabAgain('r-sold')).statusCode).toBe(201);
  });

  it('REFUNDED (a wrong amount paid back by hand): recorded, the held unit back on sale', async () => {
    const order = await grab(s, 'r-refund', goods.id);
    expect((await pay(s, 'r-refund', order.orderId)).statusCode).toBe(200);
    const wrong = notificationXml({ outTradeNo: order.orderId, totalFee: order.money + 1, transactionId: transactionId() });
    const answer = await postNotify(s.apiUrl, wrong);
    expect(answer.returnCode).toBe('SUCCESS');
    expect((await getOrder(s, 'r-refund', order.orderId)).status).toBe('NEEDS_REVIEW');
    const before = await figures();
    const res = await resolve(order.orderId, { outcome: 'REFUNDED' });
    expect(res.statusCode, res.body).toBe(200);
    expect(await figures()).toEqual({ stockCount: before.stockCount, available: before.available + 1, held: before.held - 1 });
    expect((await itemsOf(order.orderId)).map((i) => [i.kind, i.status, i.outcome])).toEqual([['AMOUNT_MISMATCH', 'RESOLVED', 'REFUNDED']]);
    // WeChat's copies of that notification keep coming: the resolved review stays resolved
    expect((await postNotify(s.apiUrl, wrong)).returnCode).toBe('SUCCESS');
    await paymentPipelineIdle(s.infra);
    expect((await itemsOf(order.orderId)).map((i) => i.status)).toEqual(['RESOLVED']);

    // the next day's reconciliation opens a RECONCILIATION review, which Redis never had: it
    // is resolved too (in MySQL), not refused as "already resolved" while the order is still in Redis
    await s.infra.core.prisma.reviewItem.create({ data: { orderId: order.orderId, kind: 'RECONCILIATION', reason: 'reconciliation: test' } });
    const again = await resolve(order.orderId, { outcome: 'REFUNDED' });
    expect(again.statusCode, again.body).toBe(200);
    expect((await itemsOf(order.orderId)).map((i) => [i.kind, i.status])).toEqual([['AMOUNT_MISMATCH', 'RESOLVED'], ['RECONCILIATION', 'RESOLVED']]);
    expect((await resolve(order.orderId, { outcome: 'REFUNDED' })).statusCode).toBe(409);
  });

  it('a signed payment for an order Redis lost becomes an UNKNOWN_ORDER review with the payment stored; REFUNDED settles it', async () => {
    const order = await grab(s, 'r-lost', goods.id);
    const k = s.infra.core.keys.forGoods(goods.id);
    await s.infra.core.redis.del(k.order(order.orderId)); // Redis lost the unpaid order
    const tx = transactionId();
    const answer = await postNotify(s.apiUrl, notificationXml({ outTradeNo: order.orderId, totalFee: order.money, transactionId: tx }));
    expect(answer.returnCode).toBe('SUCCESS');
    await paymentPipelineIdle(s.infra);
    const row = await s.infra.core.prisma.seckillOrder.findUnique({ where: { id: order.orderId }, include: { payments: true, reviews: true } });
    expect(row).toMatchObject({ status: 'NEEDS_REVIEW', money: order.money });
    expect(row?.payments.map((p) => p.transactionId)).toEqual([tx]);
    expect(row?.reviews.map((r) => [r.kind, r.status])).toEqual([['UNKNOWN_ORDER', 'OPEN']]);
    const listed = await s.app.inject({ method: 'GET', url: '/admin/seckill/reviews', headers: s.admin });
    expect(listed.json<{ orderId: string; kind: string }[]>()).toEqual(expect.arrayContaining([expect.objectContaining({ orderId: order.orderId, kind: 'UNKNOWN_ORDER' })]));

    expect((await resolve(order.orderId, { outcome: 'SOLD' })).statusCode).toBe(409); // no unit is held for it in the live sale
    const res = await resolve(order.orderId, { outcome: 'REFUNDED' });
    expect(res.statusCode, res.body).toBe(200);
    expect((await itemsOf(order.orderId)).map((i) => [i.status, i.outcome])).toEqual([['RESOLVED', 'REFUNDED']]);
  });

  it('lists resolved reviews with their outcome and time', async () => {
    const res = await s.app.inject({ method: 'GET', url: '/admin/seckill/reviews?status=RESOLVED', headers: s.admin });
    const items = res.json<{ outcome?: string; resolvedAt?: string }[]>();
    expect(items.map((i) => i.outcome).sort()).toEqual(expect.arrayContaining(['REFUNDED', 'RESTOCK', 'SOLD']));
    expect(items.every((i) => i.resolvedAt && !Number.isNaN(Date.parse(i.resolvedAt)))).toBe(true);
  });

  it('bad input changes nothing: 400 without or with an unknown outcome, 404 without a review, 409 twice, 401 without credentials', async () => {
    const order = await inReview('r-bad');
    const before = await figures();
    expect((await resolve(order.orderId, {})).statusCode).toBe(400);
    expect((await resolve(order.orderId, { outcome: 'MAYBE' })).statusCode).toBe(400);
    expect((await s.app.inject({ method: 'POST', url: `/admin/seckill/reviews/${order.orderId}/resolve`, payload: { outcome: 'RESTOCK' } })).statusCode).toBe(401);
    expect(await figures()).toEqual(before);

    const open = await grab(s, 'r-open', goods.id); // UNPAID: no review (yet)
    const none = await resolve(open.orderId, { outcome: 'RESTOCK' });
    expect(none.statusCode).toBe(404);
    expect((await resolve('1234567890123456789012', { outcome: 'RESTOCK' })).statusCode).toBe(404);

    expect((await resolve(order.orderId, { outcome: 'RESTOCK' })).statusCode).toBe(200);
    const twice = await resolve(order.orderId, { outcome: 'SOLD' });
    expect(twice.statusCode).toBe(409);
    expect(twice.json<{ code: string }>().code).toBe('REVIEW_ALREADY_RESOLVED');
    expect((await itemsOf(order.orderId)).map((i) => i.outcome)).toEqual(['RESTOCK']);
  });
});
