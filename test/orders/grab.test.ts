import { createSigner } from 'fast-jwt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { type TestContext, createTestContext, deleteTestKeys } from '../helpers/app.js';
import { countKeys, snapshotGoods } from '../redis/redis-state.js';
import { pumpTimers } from '../../src/workers/timer-pump.js';

/**
 * POST /seckill/orders and GET /seckill/orders/:orderId over app.inject, on the real API with the
 * machine's Redis and MariaDB (design §4.1, §5 "no oversell", "bad input changes nothing").
 */

const hour = 3_600_000;
/** A payment window no default uses, so the timeout job's delay is recognisably ours. */
const ORDER_TIMEOUT_MS = 987_654;
const PRICE = 12_345;

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext({ ORDER_TIMEOUT_MS: String(ORDER_TIMEOUT_MS) });
});
afterAll(async () => t?.close());

// this file runs on one Redis (the cluster's own test: test/cluster/flows.test.ts)
const redis = () => t.infra.core.redis as Redis;
const keys = () => t.infra.core.keys;
const timeoutQueue = () => t.infra.core.queues.byName['order-timeout'];

async function createGoods(over: Record<string, unknown> = {}): Promise<string> {
  const res = await t.app.inject({
    method: 'POST',
    url: '/admin/seckill/goods',
    headers: t.admin,
    payload: {
      title: 'Flash sale phone',
      price: PRICE,
      stockCount: 10,
      startTime: new Date(Date.now() - hour).toISOString(),
      endTime: new Date(Date.now() + hour).toISOString(),
      ...over,
    },
  });
  expect(res.statusCode).toBe(201);
  return res.json().id as string;
}

const grab = (goodsId: unknown, headers: Record<string, string>) =>
  t.app.inject({ method: 'POST', url: '/seckill/orders', headers, payload: { goodsId } });
const grabAs = (buyer: string, goodsId: unknown) => grab(goodsId, t.buyer(buyer));
const getOrder = (orderId: string, buyer: string) =>
  t.app.inject({ method: 'GET', url: `/seckill/orders/${orderId}`, headers: t.buyer(buyer) });
const stockOf = async (goodsId: string) => Number(await redis().get(keys().forGoods(goodsId).stock));

/** Everything a grab could have written: the goods' Redis keys (timer requests included), timeout jobs, MySQL orders. */
async function state(goodsId: string) {
  const jobs = await timeoutQueue().getJobCounts();
  return {
    goods: await snapshotGoods(redis(), keys(), goodsId),
    jobs,
    mysqlOrders: await t.infra.core.prisma.seckillOrder.count(),
  };
}

/** Run a refused request and prove nothing it could have touched changed. */
async function refusedWithoutChange(goodsId: string, request: () => Promise<{ statusCode: number; json(): { code: string; message: string } }>, status: number, code?: string) {
  const before = await state(goodsId);
  const res = await request();
  expect(res.statusCode).toBe(status);
  if (code) expect(res.json().code).toBe(code);
  expect(await state(goodsId)).toEqual(before);
  return res;
}

describe('POST /seckill/orders', () => {
  it('gives a buyer an UNPAID order holding one unit, with its deadline', async () => {
    const goodsId = await createGoods({ stockCount: 3 });
    const before = Date.now();
    const res = await grabAs('alice', goodsId);
    expect(res.statusCode).toBe(201);
    const order = res.json();
    expect(Object.keys(order).sort()).toEqual(['createTime', 'deadline', 'goodsId', 'money', 'orderId', 'status']);
    expect(order).toMatchObject({ goodsId, money: PRICE, status: 'UNPAID' });
    expect(order.orderId).toMatch(/^\d{1,32}$/);
    const createTime = Date.parse(order.createTime);
    expect(createTime).toBeGreaterThanOrEqual(before - 1_000);
    expect(createTime).toBeLessThanOrEqual(Date.now() + 1_000);
    expect(Date.parse(order.deadline) - createTime).toBe(ORDER_TIMEOUT_MS);

    expect(await stockOf(goodsId)).toBe(2);
    const k = keys().forGoods(goodsId);
    expect(await redis().get(k.buyer('alice'))).toBe(order.orderId);
    expect(await redis().zscore(k.held, order.orderId)).toBe(String(Date.parse(order.deadline)));
    // the timer request for the workers' timer pump, queued by the same script
    expect(await redis().lrange(k.timers, 0, -1)).toEqual([`${order.orderId}:${Date.parse(order.deadline)}`]);
    expect(order.orderId.startsWith(goodsId)).toBe(true);
  });

  it('accepts goodsId as a JSON number too', async () => {
    const goodsId = await createGoods();
    const res = await grabAs('numeric', Number(goodsId));
    expect(res.statusCode).toBe(201);
    expect(res.json().goodsId).toBe(goodsId);
  });

  it('200 parallel grabs by distinct buyers for 50 units: exactly 50 orders, 150 SOLD_OUT, stock never below 0', async () => {
    const N = 200;
    const S = 50;
    const goodsId = await createGoods({ stockCount: S });
    const k = keys().forGoods(goodsId);

    // watch the counter from another connection while the grabs run
    const watcher = redis().duplicate({ enableOfflineQueue: true });
    const seen: number[] = [];
    let watching = true;
    const watch = (async () => {
      while (watching) seen.push(Number(await watcher.get(k.stock)));
    })();
    const responses = await Promise.all(Array.from({ length: N }, (_, i) => grabAs(`crowd-${i}`, goodsId)));
    watching = false;
    await watch;
    await watcher.quit();

    const created = responses.filter((r) => r.statusCode === 201).map((r) => r.json());
    const refused = responses.filter((r) => r.statusCode !== 201);
    expect(created).toHaveLength(Math.min(N, S));
    expect(refused).toHaveLength(N - S);
    for (const r of refused) {
      expect(r.statusCode).toBe(409);
      expect(r.json().code).toBe('SOLD_OUT');
    }
    const orderIds = created.map((o) => o.orderId as string);
    expect(new Set(orderIds).size).toBe(S);
    for (const id of orderIds) expect(id).toMatch(/^\d{1,32}$/);
    // each winner's buyer marker names exactly the order that buyer got
    const markers = await Promise.all(
      responses.map(async (r, i) => (r.statusCode === 201 ? (await redis().get(k.buyer(`crowd-${i}`))) === r.json().orderId : true)),
    );
    expect(markers.every(Boolean)).toBe(true);

    expect(await redis().get(k.stock)).toBe('0');
    expect(seen.length).toBeGreaterThan(0);
    expect(Math.min(...seen)).toBeGreaterThanOrEqual(0);
    expect(await redis().zcard(k.held)).toBe(S);
    expect((await redis().zrange(k.held, '0', '-1')).sort()).toEqual([...orderIds].sort());
  });

  it('the same buyer grabbing 20× in parallel gets exactly one order; the others 409 REPEAT_ORDER', async () => {
    const goodsId = await createGoods({ stockCount: 50 });
    const responses = await Promise.all(Array.from({ length: 20 }, () => grabAs('greedy', goodsId)));
    const created = responses.filter((r) => r.statusCode === 201);
    expect(created).toHaveLength(1);
    for (const r of responses.filter((x) => x.statusCode !== 201)) {
      expect(r.statusCode).toBe(409);
      expect(r.json().code).toBe('REPEAT_ORDER');
    }
    expect(await stockOf(goodsId)).toBe(49);
    expect(await redis().zcard(keys().forGoods(goodsId).held)).toBe(1);
    expect(await redis().get(keys().forGoods(goodsId).buyer('greedy'))).toBe(created[0]!.json().orderId);
  });

  it('unknown goods → 404 GOODS_NOT_FOUND, and nothing is written (no goods keys appear)', async () => {
    for (const id of ['999999999', '0', '99999999999999999999']) {
      await refusedWithoutChange(id, () => grabAs('nobody', id), 404, 'GOODS_NOT_FOUND');
      expect(await countKeys(redis(), `${t.config.keyPrefix}:{g:${id}}:*`)).toBe(0);
    }
  });

  it('outside the sale window → 409 NOT_ON_SALE and nothing changes', async () => {
    const future = await createGoods({ startTime: new Date(Date.now() + hour).toISOString(), endTime: new Date(Date.now() + 2 * hour).toISOString() });
    await refusedWithoutChange(future, () => grabAs('early', future), 409, 'NOT_ON_SALE');
    const past = await createGoods({ startTime: new Date(Date.now() - 2 * hour).toISOString(), endTime: new Date(Date.now() - hour).toISOString() });
    await refusedWithoutChange(past, () => grabAs('late', past), 409, 'NOT_ON_SALE');
    expect(await stockOf(future)).toBe(10);
    // an ended sale is never loaded into Redis (not at creation, not by a grab): nothing to retire
    expect(await redis().exists(keys().forGoods(past).stock, keys().forGoods(past).goods)).toBe(0);
    expect(await redis().sismember(keys().liveGoods, past)).toBe(0);
  });

  it('sold out → 409 SOLD_OUT and nothing changes; the refusal is counted once', async () => {
    const goodsId = await createGoods({ stockCount: 1 });
    expect((await grabAs('first', goodsId)).statusCode).toBe(201);
    const rejected = async () =>
      (await t.infra.core.metrics.grabRejected.get()).values.find((v) => v.labels.reason === 'SOLD_OUT')?.value ?? 0;
    const before = await rejected();
    const res = await refusedWithoutChange(goodsId, () => grabAs('second', goodsId), 409, 'SOLD_OUT');
    expect(res.json().message).toBe('sold out');
    expect(await rejected()).toBe(before + 1);
    expect(await stockOf(goodsId)).toBe(0);
  });

  it('an active order for the same goods → 409 REPEAT_ORDER and nothing changes; other goods are fine', async () => {
    const goodsId = await createGoods();
    expect((await grabAs('repeat', goodsId)).statusCode).toBe(201);
    await refusedWithoutChange(goodsId, () => grabAs('repeat', goodsId), 409, 'REPEAT_ORDER');
    expect(await stockOf(goodsId)).toBe(9);
    const other = await createGoods();
    expect((await grabAs('repeat', other)).statusCode).toBe(201);
  });

  it.each([
    ['not JSON', '{"goodsId": ', 'INVALID_JSON'],
    ['an empty object', '{}', 'VALIDATION_ERROR'],
    ['goodsId "abc"', '{"goodsId":"abc"}', 'VALIDATION_ERROR'],
    ['goodsId negative', '{"goodsId":-1}', 'VALIDATION_ERROR'],
    ['goodsId fractional', '{"goodsId":1.5}', 'VALIDATION_ERROR'],
    ['goodsId null', '{"goodsId":null}', 'VALIDATION_ERROR'],
    ['an array', '[1]', 'VALIDATION_ERROR'],
  ])('malformed body (%s) → 400 %s and nothing changes', async (_name, payload, code) => {
    const goodsId = await createGoods();
    const stock = await stockOf(goodsId);
    await refusedWithoutChange(
      goodsId,
      () => t.app.inject({ method: 'POST', url: '/seckill/orders', headers: { ...t.buyer('sloppy'), 'content-type': 'application/json' }, payload }),
      400,
      code,
    );
    expect(await stockOf(goodsId)).toBe(stock);
  });

  it.each([
    ['text/plain', 'goodsId=1', 415],
    ['application/x-www-form-urlencoded', 'goodsId=1', 415],
    ['text/xml', '<goodsId>1</goodsId>', 415],
  ])('a %s body → %i and nothing changes', async (contentType, payload, status) => {
    const goodsId = await createGoods();
    await refusedWithoutChange(
      goodsId,
      () => t.app.inject({ method: 'POST', url: '/seckill/orders', headers: { ...t.buyer('sloppy'), 'content-type': contentType }, payload }),
      status,
    );
  });

  describe('buyer authentication', () => {
    const secret = () => t.config.jwtSecret;
    const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const nowS = () => Math.floor(Date.now() / 1000);
    const tokens: [string, () => string | undefined][] = [
      ['no Authorization header', () => undefined],
      ['a Basic header', () => `Basic ${Buffer.from('ops:ops-password').toString('base64')}`],
      ['a malformed token', () => 'Bearer not-a-jwt'],
      ['a token signed with another secret', () => `Bearer ${createSigner({ key: 'another-secret-another-secret!!', algorithm: 'HS256' })({ sub: 'mallory' })}`],
      ['alg none', () => `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'mallory', iat: nowS() })}.`],
      ['HS512 with the right secret (algorithm pinned to HS256)', () => `Bearer ${createSigner({ key: secret(), algorithm: 'HS512' })({ sub: 'mallory' })}`],
      ['an expired token', () => `Bearer ${createSigner({ key: secret(), algorithm: 'HS256' })({ sub: 'late', iat: nowS() - 7_200, exp: nowS() - 3_600 })}`],
      ['a token not valid yet', () => `Bearer ${createSigner({ key: secret(), algorithm: 'HS256' })({ sub: 'early', nbf: nowS() + 3_600 })}`],
      ['a token without sub', () => `Bearer ${createSigner({ key: secret(), algorithm: 'HS256' })({ name: 'anon' })}`],
      ['a token with an empty sub', () => `Bearer ${createSigner({ key: secret(), algorithm: 'HS256' })({ sub: '' })}`],
      ['a tampered payload', () => {
        const [h, , s] = t.app.jwt.sign({ sub: 'honest' }).split('.');
        return `Bearer ${h}.${b64({ sub: 'mallory', iat: nowS() })}.${s}`;
      }],
    ];

    it.each(tokens)('%s → 401 UNAUTHORIZED and nothing changes', async (_name, token) => {
      const goodsId = await createGoods();
      const authorization = token();
      const headers: Record<string, string> = authorization ? { authorization } : {};
      await refusedWithoutChange(goodsId, () => grab(goodsId, headers), 401, 'UNAUTHORIZED');
      await refusedWithoutChange(goodsId, () => t.app.inject({ method: 'GET', url: '/seckill/orders/1', headers }), 401, 'UNAUTHORIZED');
    });
  });
});

describe('the timeout job', () => {
  it('every reserved order has its delayed job timeout-<orderId> in order-timeout, due at the deadline', async () => {
    const goodsId = await createGoods({ stockCount: 20 });
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => grabAs(`timed-${i}`, goodsId)));
    const orders = responses.map((r) => {
      expect(r.statusCode).toBe(201);
      return r.json();
    });
    // the API queued the timer requests; a worker's timer pump turns them into jobs
    expect(await pumpTimers(t.infra.core)).toBeGreaterThanOrEqual(20);
    for (const order of orders) {
      const job = await timeoutQueue().getJob(`timeout-${order.orderId}`);
      expect(job, `job of ${order.orderId}`).toBeDefined();
      // a timeout job: no payload, its id names the order (catalogue.ts, TimeoutJob)
      expect(job!.name).toBe('timeout');
      expect(await job!.getState()).toBe('delayed');
      expect(job!.data).toEqual({});
      const window = Date.parse(order.deadline) - Date.parse(order.createTime);
      expect(window).toBe(ORDER_TIMEOUT_MS);
      // the pump computes the delay from the Redis-clock deadline
      expect(Math.abs(job!.delay - ORDER_TIMEOUT_MS)).toBeLessThan(2_000);
      expect(Math.abs(job!.timestamp + job!.delay - Date.parse(order.deadline))).toBeLessThan(1_000);
    }
  });
});

describe('GET /seckill/orders/:orderId', () => {
  it('the owner reads the live order; another buyer and an unknown id get 404', async () => {
    const goodsId = await createGoods();
    const created = (await grabAs('owner', goodsId)).json();
    const mine = await getOrder(created.orderId, 'owner');
    expect(mine.statusCode).toBe(200);
    expect(mine.json()).toEqual({
      orderId: created.orderId,
      goodsId,
      money: PRICE,
      status: 'UNPAID',
      createTime: created.createTime,
      deadline: created.deadline,
    });

    for (const [id, buyer] of [[created.orderId, 'stranger'], ['123456789012345678', 'owner'], ['abc', 'owner']] as const) {
      const res = await getOrder(id, buyer);
      expect(res.statusCode).toBe(404);
      expect(res.json().code).toBe('ORDER_NOT_FOUND');
    }
    // another buyer's 404 is indistinguishable from an unknown order's
    const unknown = (await getOrder('123456789012345678', 'stranger')).json();
    const foreign = (await getOrder(created.orderId, 'stranger')).json();
    expect(foreign.code).toBe(unknown.code);
  });

  it('a final order that has left Redis is read from MySQL', async () => {
    const goodsId = await createGoods();
    const created = (await grabAs('closer', goodsId)).json();
    const k = keys().forGoods(goodsId);
    // what expiry does after the close path persisted it: the live keys are gone
    await redis().del(k.order(created.orderId), k.buyer('closer'));
    await redis().zrem(k.held, created.orderId);
    const closedAt = new Date(Date.parse(created.createTime) + 60_000);
    await t.infra.core.prisma.seckillOrder.create({
      data: {
        id: created.orderId,
        goodsId: BigInt(goodsId),
        userId: 'closer',
        money: PRICE,
        status: 'CLOSED',
        createTime: new Date(created.createTime),
        deadline: new Date(created.deadline),
        closedAt,
        closeReason: 'TIMEOUT',
      },
    });

    const res = await getOrder(created.orderId, 'closer');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      orderId: created.orderId,
      goodsId,
      money: PRICE,
      status: 'CLOSED',
      createTime: created.createTime,
      deadline: created.deadline,
      closeReason: 'TIMEOUT',
    });
    expect((await getOrder(created.orderId, 'stranger')).statusCode).toBe(404);
  });
});

describe('after Redis lost the sale', () => {
  it('the next grab reloads the goods from MySQL and works', async () => {
    const goodsId = await createGoods({ stockCount: 5 });
    await deleteTestKeys(t.infra); // a flush of this test file's namespace
    expect(await redis().get(keys().forGoods(goodsId).stock)).toBeNull();

    const res = await grabAs('after-flush', goodsId);
    expect(res.statusCode).toBe(201);
    const order = res.json();
    expect(await stockOf(goodsId)).toBe(4);
    expect(await redis().sismember(keys().liveGoods, goodsId)).toBe(1);
    await pumpTimers(t.infra.core);
    const job = await timeoutQueue().getJob(`timeout-${order.orderId}`);
    expect(await job?.getState()).toBe('delayed');
    expect((await getOrder(order.orderId, 'after-flush')).json().status).toBe('UNPAID');
    expect((await grabAs('after-flush', goodsId)).json().code).toBe('REPEAT_ORDER');
  });
});
