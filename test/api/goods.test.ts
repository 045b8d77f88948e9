import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestContext, createTestContext, deleteTestKeys } from '../helpers/app.js';

const hour = 3600_000;
const goodsBody = (over: Record<string, unknown> = {}) => ({
  title: 'Phone 16 Pro',
  price: 99_900,
  costPrice: 799_900,
  stockCount: 10,
  startTime: new Date(Date.now() - hour).toISOString(),
  endTime: new Date(Date.now() + hour).toISOString(),
  ...over,
});

describe('goods API', () => {
  let t: TestContext;
  beforeAll(async () => {
    t = await createTestContext();
  });
  afterAll(async () => t?.close());

  const create = (body: unknown, headers: Record<string, string> = t.admin) =>
    t.app.inject({ method: 'POST', url: '/admin/seckill/goods', headers, payload: body as object });
  const goodsCount = () => t.infra.core.prisma.seckillGoods.count();

  it('creates goods that are on sale at once, with live availability', async () => {
    const res = await create(goodsBody());
    expect(res.statusCode).toBe(201);
    const goods = res.json();
    expect(goods).toMatchObject({ title: 'Phone 16 Pro', price: 99_900, costPrice: 799_900, stockCount: 10, available: 10 });
    expect(goods.id).toMatch(/^\d+$/);

    const admin = await t.app.inject({ method: 'GET', url: `/admin/seckill/goods/${goods.id}`, headers: t.admin });
    expect(admin.statusCode).toBe(200);
    expect(admin.json()).toMatchObject({ id: goods.id, stockCount: 10, available: 10 });

    const list = await t.app.inject({ method: 'GET', url: '/seckill/goods' });
    expect(list.statusCode).toBe(200);
    expect(list.json().map((g: { id: string }) => g.id)).toContain(goods.id);

    const one = await t.app.inject({ method: 'GET', url: `/seckill/goods/${goods.id}` });
    expect(one.json()).toMatchObject({ id: goods.id, available: 10 });
    // the stock is live in Redis, not only in MySQL
    expect(await t.infra.core.redis.get(t.infra.core.keys.forGoods(goods.id).stock)).toBe('10');
  });

  it('lists only goods whose window is open now', async () => {
    const future = (await create(goodsBody({ title: 'later', startTime: new Date(Date.now() + hour).toISOString(), endTime: new Date(Date.now() + 2 * hour).toISOString() }))).json();
    const list = (await t.app.inject({ method: 'GET', url: '/seckill/goods' })).json();
    expect(list.map((g: { id: string }) => g.id)).not.toContain(future.id);
  });

  it('refuses missing or wrong admin credentials with 401 and writes nothing', async () => {
    const before = await goodsCount();
    expect((await create(goodsBody(), {})).statusCode).toBe(401);
    const wrong = `Basic ${Buffer.from('ops:nope').toString('base64')}`;
    const res = await create(goodsBody(), { authorization: wrong });
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('UNAUTHORIZED');
    expect((await t.app.inject({ method: 'GET', url: '/admin/seckill/goods/1' })).statusCode).toBe(401);
    expect(await goodsCount()).toBe(before);
  });

  it.each([
    ['price 0', { price: 0 }, 'price'],
    ['negative price', { price: -1 }, 'price'],
    ['stock 0', { stockCount: 0 }, 'stockCount'],
    ['fractional stock', { stockCount: 1.5 }, 'stockCount'],
    ['end before start', { endTime: new Date(Date.now() - 2 * hour).toISOString() }, 'endTime'],
    ['end equal to start', { startTime: '2026-01-01T00:00:00Z', endTime: '2026-01-01T00:00:00Z' }, 'endTime'],
    ['bad time', { startTime: 'tomorrow' }, 'startTime'],
    ['missing title', { title: undefined }, 'title'],
    ['price as string', { price: '100' }, 'price'],
  ])('refuses %s with 400 naming the field and writes nothing', async (_name, over, field) => {
    const before = await goodsCount();
    const res = await create(goodsBody(over));
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('VALIDATION_ERROR');
    expect(res.json().fields).toContain(field);
    expect(res.json().message).toContain(field);
    expect(await goodsCount()).toBe(before);
  });

  it('refuses invalid JSON with 400', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/admin/seckill/goods',
      headers: { ...t.admin, 'content-type': 'application/json' },
      payload: '{"title": "x", ',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('INVALID_JSON');
  });

  it('answers 404 GOODS_NOT_FOUND for unknown goods', async () => {
    for (const url of ['/seckill/goods/999999999', '/seckill/goods/abc', '/seckill/goods/99999999999999999999']) {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.statusCode).toBe(404);
      expect(res.json().code).toBe('GOODS_NOT_FOUND');
    }
    const admin = await t.app.inject({ method: 'GET', url: '/admin/seckill/goods/424242', headers: t.admin });
    expect(admin.json().code).toBe('GOODS_NOT_FOUND');
  });

  it('loads goods into Redis again after Redis lost them', async () => {
    const goods = (await create(goodsBody({ stockCount: 7 }))).json();
    await deleteTestKeys(t.infra); // what a flush does to this test's namespace
    expect(await t.infra.core.redis.get(t.infra.core.keys.forGoods(goods.id).stock)).toBeNull();
    const res = await t.app.inject({ method: 'GET', url: `/seckill/goods/${goods.id}` });
    expect(res.json()).toMatchObject({ stockCount: 7, available: 7 });
    expect(await t.infra.core.redis.get(t.infra.core.keys.forGoods(goods.id).stock)).toBe('7');
  });

  it('serves health, readiness, metrics and the OpenAPI document', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/health' })).json()).toEqual({ status: 'ok' });
    const ready = await t.app.inject({ method: 'GET', url: '/ready' });
    expect(ready.json().checks).toMatchObject({ redis: 'ok', mysql: 'ok' });
    const metrics = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toContain('seckill_orders_reserved_total');
    const openapi = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json();
    expect(Object.keys(openapi.paths)).toEqual(expect.arrayContaining(['/admin/seckill/goods', '/seckill/goods/{id}', '/seckill/orders']));
    expect((await t.app.inject({ method: 'GET', url: '/admin/queues' })).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'GET', url: '/admin/queues', headers: t.admin })).statusCode).toBe(200);
  });
});
