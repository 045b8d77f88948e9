import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweep } from '../../src/domain/orders/sweep.js';
import { RETIRED_KEYS_TTL_SECONDS, retireIfOver } from '../../src/domain/goods/retire.js';
import { eventually } from '../../src/sandbox/testing.js';
import { type TestSystem, createTestSystem } from '../helpers/system.js';
import { notificationXml, postNotify } from '../payments/support.js';
import { createAtWeChat, dbOrder, grab, outboxDrained, reserveWithoutJob, waitForStatus } from './support.js';

/**
 * Redis key lifecycle (design §9): a goods leaves `live-goods` once its sale has ended and
 * nothing of it is in flight, its keys then expire, and nothing but news for one of its orders
 * brings it back. Workers run with the sweeper (every 500 ms) and the persister; orders time out
 * after 1 s.
 */
describe('key lifecycle: an ended, settled sale is retired from Redis', () => {
  let s: TestSystem;
  beforeAll(async () => {
    s = await createTestSystem({ sweeper: true });
  });
  afterAll(async () => s?.close());

  const redis = () => s.infra.core.redis;
  const keys = () => s.infra.core.keys;
  const isLive = async (goodsId: string) => (await redis().sismember(keys().liveGoods, goodsId)) === 1;
  const retiredCount = async () => (await s.workerInfra.core.metrics.goodsRetired.get()).values.reduce((n, v) => n + v.value, 0);
  const retired = (goodsId: string, timeoutMs = 20_000) =>
    eventually(async () => ((await isLive(goodsId)) ? undefined : true), timeoutMs, 50).catch(() => {
      throw new Error(`goods ${goodsId} was not retired within ${timeoutMs} ms`);
    });

  /** A goods whose sale ends `endsInMs` from now. */
  async function shortSale(stockCount: number, endsInMs: number): Promise<string> {
    const res = await s.app.inject({
      method: 'POST',
      url: '/admin/seckill/goods',
      headers: s.admin,
      payload: { title: 'short sale', price: 100, stockCount, startTime: new Date(Date.now() - 60_000).toISOString(), endTime: new Date(Date.now() + endsInMs).toISOString() },
    });
    expect(res.statusCode, res.body).toBe(201);
    return res.json<{ id: string }>().id;
  }

  const payViaNotify = async (orderId: string, money: number) => {
    const answer = await postNotify(s.apiUrl, notificationXml({ outTradeNo: orderId, totalFee: money }));
    expect(answer.returnCode, answer.text).toBe('SUCCESS');
  };

  it('paid, cancelled and timed-out orders all settled after the end: the goods leaves live-goods, its keys expire, a grab or GET does not bring it back', async () => {
    const before = await retiredCount();
    // (long enough for the set-up under a loaded CI machine: a sale created after its end is never loaded)
    const goodsId = await shortSale(3, 8_000);
    const k = keys().forGoods(goodsId);
    expect(await isLive(goodsId)).toBe(true);

    const [paid, cancelled, timedOut] = await Promise.all(['kl-paid', 'kl-cancel', 'kl-timeout'].map((buyer) => grab(s, buyer, goodsId)));
    await createAtWeChat(s, 'kl-paid', paid!.orderId);
    expect((await s.sandbox.pay(paid!.orderId)).status).toBe(200);
    const cancel = await s.app.inject({ method: 'POST', url: `/seckill/orders/${cancelled!.orderId}/cancel`, headers: s.buyer('kl-cancel') });
    expect(cancel.statusCode, cancel.body).toBe(202);
    await waitForStatus(s, 'kl-paid', paid!.orderId, 'PAID', 15_000);
    await waitForStatus(s, 'kl-cancel', cancelled!.orderId, 'CLOSED', 15_000);
    await waitForStatus(s, 'kl-timeout', timedOut!.orderId, 'CLOSED', 15_000);

    // while the sale runs, settled or not, the goods stays live
    const row0 = await s.infra.core.prisma.seckillGoods.findUnique({ where: { id: BigInt(goodsId) } });
    if (Date.now() < row0!.endTime.getTime() - 500) expect(await isLive(goodsId)).toBe(true);
    await retired(goodsId);
    expect(await retiredCount()).toBeGreaterThan(before);

    for (const key of [k.goods, k.stock, k.soldAcks]) {
      const ttl = await redis().ttl(key);
      expect(ttl, key).toBeGreaterThan(RETIRED_KEYS_TTL_SECONDS - 60);
      expect(ttl, key).toBeLessThanOrEqual(RETIRED_KEYS_TTL_SECONDS);
    }
    expect(await redis().exists(k.held, k.timers, k.outbox, k.paidPending, k.sweepCursor)).toBe(0);
    expect((await dbOrder(s, paid!.orderId))?.status).toBe('PAID');
    const row = await s.infra.core.prisma.seckillGoods.findUnique({ where: { id: BigInt(goodsId) } });
    expect(row?.stockCount).toBe(2);

    // a buyer's GET and late grabs change nothing: the goods stays retired
    const view = await s.app.inject({ method: 'GET', url: `/seckill/goods/${goodsId}` });
    expect(view.json()).toMatchObject({ stockCount: 2, available: 2 });
    const late = await s.app.inject({ method: 'POST', url: '/seckill/orders', headers: s.buyer('kl-late'), payload: { goodsId } });
    expect(late.statusCode).toBe(409);
    expect(late.json().code).toBe('NOT_ON_SALE');

    // the keys expire (a day on): the same answers, and nothing is written back
    await redis().del(k.goods, k.stock, k.soldAcks);
    const afterExpiry = await s.app.inject({ method: 'GET', url: `/seckill/goods/${goodsId}` });
    expect(afterExpiry.json()).toMatchObject({ stockCount: 2, available: 2 });
    const lateAgain = await s.app.inject({ method: 'POST', url: '/seckill/orders', headers: s.buyer('kl-late'), payload: { goodsId } });
    expect(lateAgain.json().code).toBe('NOT_ON_SALE');
    expect(await redis().exists(k.goods, k.stock)).toBe(0);
    const report = await sweep(s.workerInfra.core);
    expect(await isLive(goodsId)).toBe(false);
    expect(report.drift.find((d) => d.goodsId === goodsId)).toBeUndefined();
  }, 60_000);

  it('is not retired while an order still holds a unit after the end; once it is paid and persisted, it is', async () => {
    const goodsId = await shortSale(2, 3_000);
    // an order grabbed just before the end whose window runs well past it
    const orderId = await reserveWithoutJob(s, 'kl-held', goodsId, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    for (let i = 0; i < 3; i += 1) {
      const report = await sweep(s.workerInfra.core);
      expect(report.retired).toBe(0);
    }
    expect(await isLive(goodsId)).toBe(true);

    await payViaNotify(orderId, 100);
    await waitForStatus(s, 'kl-held', orderId, 'PAID', 15_000);
    await retired(goodsId);
    expect((await dbOrder(s, orderId))?.status).toBe('PAID');
    const row = await s.infra.core.prisma.seckillGoods.findUnique({ where: { id: BigInt(goodsId) } });
    expect(row?.stockCount).toBe(1);
  }, 60_000);

  it('an outbox append racing the retirement (after its check, before its SREM) puts the goods back: nothing is stranded', async () => {
    const goodsId = await shortSale(1, 500);
    await new Promise((resolve) => setTimeout(resolve, 700));
    const k = keys().forGoods(goodsId);
    const core = s.workerInfra.core;
    // a late payment's transition lands right between retireGoods and the SREM
    const racing = new Proxy(core.redis, {
      get(target, prop, receiver) {
        if (prop === 'srem') {
          return async (...args: Parameters<typeof target.srem>) => {
            await target.zadd(k.outbox, Date.now(), 'late-order');
            return target.srem(...args);
          };
        }
        const value = Reflect.get(target, prop, receiver) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    expect(await retireIfOver({ ...core, redis: racing }, goodsId)).toBe('in-flight');
    expect(await isLive(goodsId)).toBe(true);
    await redis().zrem(k.outbox, 'late-order');
    expect(await retireIfOver(core, goodsId)).toBe('retired');
    expect(await isLive(goodsId)).toBe(false);
  });

  it('a payment after close, and the resolution of its review, reach MySQL though the goods was retired; it is retired again after each', async () => {
    const goodsId = await shortSale(1, 3_000);
    const order = await grab(s, 'kl-late-pay', goodsId);
    const cancel = await s.app.inject({ method: 'POST', url: `/seckill/orders/${order.orderId}/cancel`, headers: s.buyer('kl-late-pay') });
    expect(cancel.statusCode, cancel.body).toBe(202);
    await waitForStatus(s, 'kl-late-pay', order.orderId, 'CLOSED', 15_000);
    await retired(goodsId);

    // WeChat's notification of a payment made just before the close comes late
    await payViaNotify(order.orderId, order.money);
    const item = await eventually(
      () => s.infra.core.prisma.reviewItem.findFirst({ where: { orderId: order.orderId, kind: 'PAID_AFTER_CLOSE' } }).then((r) => r ?? undefined),
      15_000,
      25,
    );
    expect(item.status).toBe('OPEN');
    await outboxDrained(s, goodsId);
    await retired(goodsId);

    const resolved = await s.app.inject({ method: 'POST', url: `/admin/seckill/reviews/${order.orderId}/resolve`, headers: s.admin, payload: { outcome: 'REFUNDED' } });
    expect(resolved.statusCode, resolved.body).toBe(200);
    await eventually(async () => {
      const items = await s.infra.core.prisma.reviewItem.findMany({ where: { orderId: order.orderId } });
      return items.length > 0 && items.every((i) => i.status === 'RESOLVED') ? true : undefined;
    }, 15_000, 25);
    await outboxDrained(s, goodsId);
    await retired(goodsId);
    expect(await redis().exists(keys().forGoods(goodsId).outbox)).toBe(0);
  }, 60_000);
});
