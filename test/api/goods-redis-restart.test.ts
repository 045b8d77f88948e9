import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../src/sandbox/testing.js';
import { type TestContext, createTestContext } from '../helpers/app.js';
import { PrivateRedis } from '../helpers/redis-server.js';

/**
 * Redis without persistence restarted (or FLUSHALL): every live key is gone. Goods must come
 * back on sale by themselves, with the durable stock, and grabbing must work again.
 */
describe('goods after a Redis restart', () => {
  let redis: PrivateRedis;
  let t: TestContext;
  beforeAll(async () => {
    redis = await PrivateRedis.start();
    t = await createTestContext({ REDIS_URL: redis.url });
  });
  afterAll(async () => {
    await t?.close();
    await redis?.destroy();
  });

  const createGoods = async (stockCount: number) =>
    (await t.app.inject({
      method: 'POST',
      url: '/admin/seckill/goods',
      headers: t.admin,
      payload: { title: 'restart', price: 500, stockCount, startTime: new Date(Date.now() - 60_000).toISOString(), endTime: new Date(Date.now() + 3_600_000).toISOString() },
    })).json();

  const grab = (goodsId: string, buyer: string) =>
    t.app.inject({ method: 'POST', url: '/seckill/orders', headers: t.buyer(buyer), payload: { goodsId } });

  it('reloads goods with their durable stock and sells again', async () => {
    const goods = await createGoods(3);
    expect((await grab(goods.id, 'before-restart')).statusCode).toBe(201);

    await redis.restart();
    // the API's connection fails fast while Redis is away, then reconnects by itself
    await eventually(async () => ((await t.infra.core.redis.ping().catch(() => '')) === 'PONG' ? true : undefined), 10_000, 100);
    expect(await t.infra.core.redis.dbsize()).toBe(0);

    // the unpaid order was lost with Redis, so its unit is available again: 3, not 2 and not 4
    const view = await t.app.inject({ method: 'GET', url: `/seckill/goods/${goods.id}` });
    expect(view.json()).toMatchObject({ stockCount: 3, available: 3 });

    const grabs = await Promise.all(['a', 'b', 'c', 'd'].map((b) => grab(goods.id, b)));
    expect(grabs.map((r) => r.statusCode).sort()).toEqual([201, 201, 201, 409]);
  });

  it('the first grab after a FLUSHALL loads the goods itself', async () => {
    const goods = await createGoods(2);
    await t.infra.core.redis.flushall();
    const res = await grab(goods.id, 'after-flush');
    expect(res.statusCode).toBe(201);
    const admin = await t.app.inject({ method: 'GET', url: `/admin/seckill/goods/${goods.id}`, headers: t.admin });
    expect(admin.json()).toMatchObject({ stockCount: 2, available: 1 });
  });

  it('answers 503 while Redis is down, without leaking internals', async () => {
    const goods = await createGoods(1);
    await redis.stop();
    const res = await grab(goods.id, 'while-down');
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ code: 'SERVICE_UNAVAILABLE', message: expect.any(String) });
    await redis.restart();
    await eventually(async () => ((await t.infra.core.redis.ping().catch(() => '')) === 'PONG' ? true : undefined), 10_000, 100);
  });
});
