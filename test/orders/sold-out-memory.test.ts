import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.js';
import { loadConfig } from '../../src/config/env.js';
import { orderTransitions } from '../../src/domain/orders/transitions.js';
import { Transition } from '../../src/domain/orders/transition-codes.js';
import { type Infra, createInfra, waitForRedis } from '../../src/infra/context.js';
import { type TestContext, createTestContext, silentLogger } from '../helpers/app.js';

/**
 * The sold-out fast path (issue 16): an API process answers SOLD_OUT from memory once a grab told
 * it so, and a unit put back is on sale again everywhere within a bound — at once through the
 * restock channel, within SOLD_OUT_RECHECK_MS when a notification is missed, and after a
 * reconnection of the subscriber. Two API processes on one Redis: `one` re-checks rarely (60 s),
 * so only the channel can explain how fast it learns; `two` re-checks every 300 ms.
 */
const hour = 3_600_000;
let one: TestContext;
let twoInfra: Infra;
let two: FastifyInstance;

beforeAll(async () => {
  one = await createTestContext({ SOLD_OUT_RECHECK_MS: '60000' });
  const config = loadConfig({ ...one.env, SOLD_OUT_RECHECK_MS: '300' });
  twoInfra = createInfra(config, silentLogger, 'api');
  await waitForRedis(twoInfra.core.redis, config.redisUrl);
  two = await buildApp({ infra: twoInfra });
  await two.ready();
});
afterAll(async () => {
  await two?.close();
  await twoInfra?.close();
  await one?.close();
});

async function newGoods(stockCount: number): Promise<string> {
  const res = await one.app.inject({
    method: 'POST',
    url: '/admin/seckill/goods',
    headers: one.admin,
    payload: { title: 'sold out', price: 100, stockCount, startTime: new Date(Date.now() - hour).toISOString(), endTime: new Date(Date.now() + hour).toISOString() },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json<{ id: string }>().id;
}

const grab = (app: FastifyInstance, buyer: string, goodsId: string) => app.inject({ method: 'POST', url: '/seckill/orders', headers: one.buyer(buyer), payload: { goodsId } });
const stockKey = (goodsId: string) => one.infra.core.keys.forGoods(goodsId).stock;

/** Grab as fresh buyers every 2 ms until one succeeds; how long it took. */
async function msUntilGrabbed(app: FastifyInstance, goodsId: string, tag: string, limitMs: number): Promise<number> {
  const start = Date.now();
  for (let i = 0; Date.now() - start < limitMs; i += 1) {
    const res = await grab(app, `${tag}-${i}`, goodsId);
    if (res.statusCode === 201) return Date.now() - start;
    expect(res.json<{ code: string }>().code).toBe('SOLD_OUT');
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`no grab succeeded within ${limitMs} ms`);
}

describe('sold-out memory across API processes', () => {
  let goodsId: string;
  let firstOrder: string;

  it('after a grab hears SOLD_OUT, the process answers from memory (a unit slipped in by hand, unannounced, is not seen)', async () => {
    goodsId = await newGoods(1);
    const first = await grab(one.app, 'a', goodsId);
    expect(first.statusCode).toBe(201);
    firstOrder = first.json<{ orderId: string }>().orderId;
    expect((await grab(one.app, 'b', goodsId)).json()).toMatchObject({ code: 'SOLD_OUT' });
    expect((await grab(two, 'c', goodsId)).json()).toMatchObject({ code: 'SOLD_OUT' });

    await one.infra.core.redis.set(stockKey(goodsId), '1'); // no restock message
    const fromMemory = await grab(one.app, 'd', goodsId);
    expect(fromMemory.statusCode).toBe(409);
    expect(fromMemory.json()).toMatchObject({ code: 'SOLD_OUT' });
    expect(await one.infra.core.redis.get(stockKey(goodsId))).toBe('1'); // Redis was not asked
  });

  it('the answer from memory is the one Redis gives (status, body, type), after the token check, and only for the goods remembered', async () => {
    const none = await newGoods(1);
    expect((await grab(one.app, 'e0', none)).statusCode).toBe(201);
    const fromRedis = await grab(one.app, 'e', none); // the first grab asks Redis, the next ones do not
    const fromMemory = await grab(one.app, 'f', none);
    expect([fromMemory.statusCode, fromMemory.headers['content-type'], fromMemory.json()]).toEqual([409, 'application/json; charset=utf-8', { code: 'SOLD_OUT', message: 'sold out' }]);
    expect([fromRedis.statusCode, fromRedis.headers['content-type'], fromRedis.json()]).toEqual([fromMemory.statusCode, fromMemory.headers['content-type'], fromMemory.json()]);
    // a number names the same goods
    const asNumber = await one.app.inject({ method: 'POST', url: '/seckill/orders', headers: one.buyer('g'), payload: { goodsId: Number(none) } });
    expect([asNumber.statusCode, asNumber.json().code]).toEqual([409, 'SOLD_OUT']);
    // 401 first: no token, a forged token
    const anonymous = await one.app.inject({ method: 'POST', url: '/seckill/orders', payload: { goodsId: none } });
    expect([anonymous.statusCode, anonymous.json().code]).toEqual([401, 'UNAUTHORIZED']);
    const forged = await one.app.inject({ method: 'POST', url: '/seckill/orders', headers: { authorization: `${one.buyer('h').authorization.slice(0, -4)}AAAA` }, payload: { goodsId: none } });
    expect([forged.statusCode, forged.json().code]).toEqual([401, 'UNAUTHORIZED']);
    // bodies that name no remembered goods go on to the schema and to Redis as before
    const invalid = await one.app.inject({ method: 'POST', url: '/seckill/orders', headers: one.buyer('i'), payload: { goodsId: `${none}x` } });
    expect([invalid.statusCode, invalid.json().code]).toEqual([400, 'VALIDATION_ERROR']);
    const unknown = await one.app.inject({ method: 'POST', url: '/seckill/orders', headers: one.buyer('j'), payload: { goodsId: '987654321987' } });
    expect([unknown.statusCode, unknown.json().code]).toEqual([404, 'GOODS_NOT_FOUND']);
  });

  it('a missed restock keeps a unit off sale for at most SOLD_OUT_RECHECK_MS (300 ms here)', async () => {
    const ms = await msUntilGrabbed(two, goodsId, 'e', 5_000);
    console.log(`sold-out memory: unannounced unit seen after ${ms} ms (re-check every 300 ms)`);
    expect(ms).toBeLessThan(300 + 500);
    expect(await one.infra.core.redis.get(stockKey(goodsId))).toBe('0');
  });

  it('a close that restocks is heard through the channel at once, long before the 60 s re-check', async () => {
    expect((await grab(one.app, 'f', goodsId)).json()).toMatchObject({ code: 'SOLD_OUT' });
    const order = orderTransitions(one.infra.core, firstOrder, goodsId);
    expect(await order.beginClose('TIMEOUT')).toBe(Transition.Done);
    expect(await order.closeWithRestock()).toBe(Transition.Done);
    const ms = await msUntilGrabbed(one.app, goodsId, 'g', 5_000);
    console.log(`sold-out memory: restock heard through the channel after ${ms} ms`);
    expect(ms).toBeLessThan(1_000);
  });

  it('a subscriber that lost its connection forgets everything when it is back (messages meanwhile are lost)', async () => {
    expect((await grab(one.app, 'h', goodsId)).json()).toMatchObject({ code: 'SOLD_OUT' });
    await one.infra.core.redis.set(stockKey(goodsId), '1'); // unannounced again
    const name = `restock-sub:${one.infra.core.keys.restockChannel}`;
    const clients = String(await one.infra.core.redis.call('CLIENT', 'LIST', 'TYPE', 'pubsub'));
    const ids = clients.split('\n').filter((line) => line.includes(` name=${name} `)).map((line) => /id=(\d+)/.exec(line)?.[1]).filter(Boolean) as string[];
    expect(ids.length).toBeGreaterThanOrEqual(1);
    for (const id of ids) await one.infra.core.redis.call('CLIENT', 'KILL', 'ID', id);
    const ms = await msUntilGrabbed(one.app, goodsId, 'i', 10_000);
    console.log(`sold-out memory: forgotten ${ms} ms after the subscriber's connection was killed`);
    expect(ms).toBeLessThan(5_000);
  });
});
