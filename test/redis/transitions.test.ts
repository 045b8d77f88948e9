import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrderIdGenerator } from '../../src/domain/orders/order-id.js';
import { Transition } from '../../src/domain/orders/transition-codes.js';
import { orderTransitions } from '../../src/domain/orders/transitions.js';
import { type KeySpace, keySpace } from '../../src/infra/redis/keys.js';
import { defineScripts } from '../../src/infra/redis/scripts.js';
import { crc16, hashTag, keySlot, snapshot, snapshotGoods } from './redis-state.js';

/**
 * The Lua transitions on the machine's Redis, called through the ioredis commands of scripts.ts
 * and the typed wrappers of transitions.ts. Each test file has its own key prefix; every test
 * uses its own goods ids, so tests never see each other's keys.
 */

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `tr${randomBytes(4).toString('hex')}`;
const PRICE = 4_990;
const WINDOW_MS = 60_000;
const N = 50;

let redis: Redis;
/** Several connections, so "parallel" callers really arrive on different sockets. */
let pool: Redis[];
let keys: KeySpace;
const ids = new OrderIdGenerator(7);
let goodsSeq = 0;

beforeAll(async () => {
  redis = defineScripts(new Redis(REDIS_URL));
  pool = Array.from({ length: 8 }, () => defineScripts(new Redis(REDIS_URL)));
  keys = keySpace(PREFIX);
  await Promise.all([redis, ...pool].map((r) => r.ping()));
});

afterAll(async () => {
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${PREFIX}:*`, 'COUNT', 1000);
    cursor = next;
    if (found.length) await redis.del(...found);
  } while (cursor !== '0');
  await Promise.all([redis, ...pool].map((r) => r.quit()));
});

const conn = (i: number) => pool[i % pool.length]!;
const deps = () => ({ redis, keys });

interface GoodsOptions {
  stock?: number;
  startMs?: number;
  endMs?: number;
  price?: number;
}

/** A fresh goods id (never loaded) in this file's namespace. */
const newGoodsId = () => String(1_000 + ++goodsSeq);

async function loadGoods(goodsId: string, { stock = 10, startMs = Date.now() - 3_600_000, endMs = Date.now() + 3_600_000, price = PRICE }: GoodsOptions = {}, r: Redis = redis) {
  const k = keys.forGoods(goodsId);
  return r.loadGoods(k.goods, k.stock, k.held, `goods ${goodsId}`, price, startMs, endMs, stock);
}

async function goodsOnSale(options: GoodsOptions = {}): Promise<string> {
  const goodsId = newGoodsId();
  await loadGoods(goodsId, options);
  return goodsId;
}

function reserve(goodsId: string, buyer: string, orderId = ids.next(goodsId), r: Redis = redis, windowMs = WINDOW_MS) {
  const k = keys.forGoods(goodsId);
  return r.reserveOrder(k.goods, k.stock, k.held, k.order(orderId), k.buyer(buyer), k.timers, orderId, buyer, goodsId, windowMs);
}

/** Reserve one order and return its id (asserting it was reserved). */
async function reserved(goodsId: string, buyer = `b-${randomBytes(3).toString('hex')}`): Promise<{ orderId: string; buyer: string }> {
  const orderId = ids.next(goodsId);
  const [code] = await reserve(goodsId, buyer, orderId);
  expect(code).toBe(Transition.Done);
  return { orderId, buyer };
}

const stockOf = async (goodsId: string) => Number(await redis.get(keys.forGoods(goodsId).stock));
const orderHash = (goodsId: string, orderId: string) => redis.hgetall(keys.forGoods(goodsId).order(orderId));
const tx = (goodsId: string, orderId: string) => orderTransitions(deps(), orderId, goodsId);

/** An order brought into the given status through the transitions themselves. */
async function orderIn(status: 'UNPAID' | 'CLOSING' | 'CLOSED' | 'PAID' | 'NEEDS_REVIEW', stock = 5) {
  const goodsId = await goodsOnSale({ stock });
  const { orderId, buyer } = await reserved(goodsId);
  const t = tx(goodsId, orderId);
  if (status === 'CLOSING' || status === 'CLOSED') expect(await t.beginClose('TIMEOUT')).toBe(Transition.Done);
  if (status === 'CLOSED') expect(await t.closeWithRestock()).toBe(Transition.Done);
  if (status === 'PAID') expect(await t.markPaid('wx-tx-1', PRICE, Date.now())).toBe(Transition.Done);
  if (status === 'NEEDS_REVIEW') expect(await t.markNeedsReview('close failed: SIGNERROR')).toBe(Transition.Done);
  expect((await orderHash(goodsId, orderId)).status).toBe(status);
  return { goodsId, orderId, buyer, t };
}

/** Run `action`, expect `code`, and prove every key of the goods is exactly as before. */
async function refusedWithoutChange(goodsId: string, action: () => Promise<unknown>, code: unknown) {
  const before = await snapshotGoods(redis, keys, goodsId);
  expect(await action()).toEqual(code);
  expect(await snapshotGoods(redis, keys, goodsId)).toEqual(before);
}

describe('loadGoods', () => {
  it('loads stock once; a second load refreshes the goods fields but never touches live stock', async () => {
    const goodsId = newGoodsId();
    expect(await loadGoods(goodsId, { stock: 10 })).toEqual([1, 10]);
    await reserved(goodsId);
    expect(await loadGoods(goodsId, { stock: 10, price: 5_990 })).toEqual([0, 9]);
    expect(await stockOf(goodsId)).toBe(9);
    expect(await redis.hget(keys.forGoods(goodsId).goods, 'price')).toBe('5990');
  });

  it('after losing only the stock key, subtracts the units held by live orders (incl. NEEDS_REVIEW)', async () => {
    const goodsId = await goodsOnSale({ stock: 10 });
    await reserved(goodsId);
    await reserved(goodsId);
    const { orderId } = await reserved(goodsId);
    expect(await tx(goodsId, orderId).markNeedsReview('manual')).toBe(Transition.Done);
    expect(await stockOf(goodsId)).toBe(7);

    await redis.del(keys.forGoods(goodsId).stock);
    expect(await loadGoods(goodsId, { stock: 10 })).toEqual([1, 7]);
    expect(await stockOf(goodsId)).toBe(7);
  });

  it('never loads negative stock when more units are held than the durable count says', async () => {
    const goodsId = await goodsOnSale({ stock: 3 });
    for (let i = 0; i < 3; i += 1) await reserved(goodsId);
    await redis.del(keys.forGoods(goodsId).stock);
    expect(await loadGoods(goodsId, { stock: 1 })).toEqual([1, 0]);
  });

  it(`${N} parallel loads of one goods put its stock once`, async () => {
    const goodsId = newGoodsId();
    const replies = await Promise.all(Array.from({ length: N }, (_, i) => loadGoods(goodsId, { stock: 10 }, conn(i))));
    expect(replies.filter(([code]) => code === Transition.Done)).toHaveLength(1);
    expect(replies.every(([, available]) => available === 10)).toBe(true);
    expect(await stockOf(goodsId)).toBe(10);
  });
});

describe('reserveOrder', () => {
  it('takes one unit and creates the UNPAID order, its deadline index entry and the buyer marker', async () => {
    const goodsId = await goodsOnSale({ stock: 10 });
    const orderId = ids.next(goodsId);
    const before = Date.now();
    const [code, createTime, deadline, money] = await reserve(goodsId, 'alice', orderId);
    expect(code).toBe(Transition.Done);
    expect(createTime).toBeGreaterThanOrEqual(before - 1_000);
    expect(createTime).toBeLessThanOrEqual(Date.now() + 1_000);
    expect(deadline - createTime).toBe(WINDOW_MS);
    expect(money).toBe(PRICE);

    const k = keys.forGoods(goodsId);
    expect(await stockOf(goodsId)).toBe(9);
    expect(await orderHash(goodsId, orderId)).toEqual({
      orderId, goodsId, userId: 'alice', money: String(PRICE), status: 'UNPAID', createTime: String(createTime), deadline: String(deadline),
    });
    expect(await redis.zscore(k.held, orderId)).toBe(String(deadline));
    expect(await redis.get(k.buyer('alice'))).toBe(orderId);
    // the timer request, queued for the workers' timer pump in the same atomic step
    expect(await redis.lrange(k.timers, 0, -1)).toEqual([`${orderId}:${deadline}`]);
  });

  it('applied twice has its effect once (same buyer: -3; same order id, other buyer: -5)', async () => {
    const goodsId = await goodsOnSale({ stock: 10 });
    const orderId = ids.next(goodsId);
    expect((await reserve(goodsId, 'bob', orderId))[0]).toBe(Transition.Done);
    await refusedWithoutChange(goodsId, async () => (await reserve(goodsId, 'bob', orderId))[0], Transition.RepeatOrder);
    await refusedWithoutChange(goodsId, async () => (await reserve(goodsId, 'carol', orderId))[0], Transition.OrderIdTaken);
    expect(await stockOf(goodsId)).toBe(9);
  });

  it.each([
    ['goods not loaded', Transition.GoodsNotLoaded, async () => newGoodsId()],
    ['sale not started', Transition.NotOnSale, () => goodsOnSale({ startMs: Date.now() + 60_000, endMs: Date.now() + 120_000 })],
    ['sale ended', Transition.NotOnSale, () => goodsOnSale({ startMs: Date.now() - 120_000, endMs: Date.now() - 60_000 })],
    ['sold out', Transition.SoldOut, () => goodsOnSale({ stock: 0 })],
  ])('%s → %i and nothing changes', async (_name, code, setup) => {
    const goodsId = await setup();
    await refusedWithoutChange(goodsId, async () => (await reserve(goodsId, 'dave'))[0], code);
  });

  it('a buyer with an active order gets -3 even when stock is left, and nothing changes', async () => {
    const goodsId = await goodsOnSale({ stock: 5 });
    await reserved(goodsId, 'erin');
    await refusedWithoutChange(goodsId, async () => (await reserve(goodsId, 'erin'))[0], Transition.RepeatOrder);
  });

  it('the buyer may grab again once the order is closed and restocked, not while it is CLOSING', async () => {
    const { goodsId, buyer, t } = await orderIn('CLOSING');
    expect((await reserve(goodsId, buyer))[0]).toBe(Transition.RepeatOrder);
    expect(await t.closeWithRestock()).toBe(Transition.Done);
    expect((await reserve(goodsId, buyer))[0]).toBe(Transition.Done);
  });

  it(`${4 * N} parallel reserves by distinct buyers for ${N} units: exactly ${N} orders, stock 0`, async () => {
    const goodsId = await goodsOnSale({ stock: N });
    const replies = await Promise.all(Array.from({ length: 4 * N }, (_, i) => reserve(goodsId, `buyer-${i}`, ids.next(goodsId), conn(i))));
    const codes = replies.map(([code]) => code);
    expect(codes.filter((c) => c === Transition.Done)).toHaveLength(N);
    expect(codes.filter((c) => c === Transition.SoldOut)).toHaveLength(3 * N);
    expect(await stockOf(goodsId)).toBe(0);
    expect(await redis.zcard(keys.forGoods(goodsId).held)).toBe(N);
  });

  it(`${N} parallel reserves by one buyer: exactly one order`, async () => {
    const goodsId = await goodsOnSale({ stock: N });
    const replies = await Promise.all(Array.from({ length: N }, (_, i) => reserve(goodsId, 'frank', ids.next(goodsId), conn(i))));
    const codes = replies.map(([code]) => code);
    expect(codes.filter((c) => c === Transition.Done)).toHaveLength(1);
    expect(codes.filter((c) => c === Transition.RepeatOrder)).toHaveLength(N - 1);
    expect(await stockOf(goodsId)).toBe(N - 1);
  });
});

describe('beginClose', () => {
  it('UNPAID → CLOSING once; the second call answers 2 and changes nothing', async () => {
    const { goodsId, orderId, t } = await orderIn('UNPAID');
    const stockBefore = await stockOf(goodsId);
    expect(await t.beginClose('USER_CANCEL')).toBe(Transition.Done);
    expect(await orderHash(goodsId, orderId)).toMatchObject({ status: 'CLOSING', closeReason: 'USER_CANCEL' });
    await refusedWithoutChange(goodsId, () => t.beginClose('TIMEOUT'), Transition.AlreadyClosing);
    expect(await stockOf(goodsId)).toBe(stockBefore); // closing alone never moves stock
  });

  it.each([
    ['PAID', Transition.IsPaid],
    ['CLOSED', Transition.IsClosed],
    ['NEEDS_REVIEW', Transition.InReview],
  ] as const)('from %s → %i and nothing changes', async (status, code) => {
    const { goodsId, t } = await orderIn(status);
    await refusedWithoutChange(goodsId, () => t.beginClose('TIMEOUT'), code);
  });

  it('unknown order → -10 and nothing changes', async () => {
    const goodsId = await goodsOnSale();
    await refusedWithoutChange(goodsId, () => tx(goodsId, ids.next(goodsId)).beginClose('TIMEOUT'), Transition.OrderNotFound);
  });

  it('reopens a NEEDS_REVIEW order only when asked, putting it back under its deadline', async () => {
    const { goodsId, orderId, t } = await orderIn('NEEDS_REVIEW');
    const deadline = (await orderHash(goodsId, orderId)).deadline;
    expect(await redis.zscore(keys.forGoods(goodsId).held, orderId)).toBe('inf');
    expect(await t.beginClose('TIMEOUT', true)).toBe(Transition.Done);
    const order = await orderHash(goodsId, orderId);
    expect(order).toMatchObject({ status: 'CLOSING', closeReason: 'TIMEOUT' });
    expect(order.reviewReason).toBeUndefined();
    expect(await redis.zscore(keys.forGoods(goodsId).held, orderId)).toBe(deadline);
  });

  it(`${N} parallel beginClose on one UNPAID order: one 1, the rest 2`, async () => {
    const { goodsId, orderId } = await orderIn('UNPAID');
    const k = keys.forGoods(goodsId);
    const codes = await Promise.all(Array.from({ length: N }, (_, i) => conn(i).beginClose(k.order(orderId), k.held, 'TIMEOUT', '0')));
    expect(codes.filter((c) => c === Transition.Done)).toHaveLength(1);
    expect(codes.filter((c) => c === Transition.AlreadyClosing)).toHaveLength(N - 1);
  });
});

describe('closeWithRestock', () => {
  it('CLOSING → CLOSED once: stock +1, held entry and buyer marker gone, order expires; again → 0', async () => {
    const { goodsId, orderId, buyer, t } = await orderIn('CLOSING');
    const k = keys.forGoods(goodsId);
    const stockBefore = await stockOf(goodsId);
    expect(await t.closeWithRestock()).toBe(Transition.Done);
    expect(await stockOf(goodsId)).toBe(stockBefore + 1);
    expect(await redis.zscore(k.held, orderId)).toBeNull();
    expect(await redis.get(k.buyer(buyer))).toBeNull();
    const order = await orderHash(goodsId, orderId);
    expect(order.status).toBe('CLOSED');
    expect(Number(order.closedAt)).toBeGreaterThan(0);
    expect(await redis.ttl(k.order(orderId))).toBeGreaterThan(0);
    await refusedWithoutChange(goodsId, () => t.closeWithRestock(), Transition.AlreadyDone);
    expect(await stockOf(goodsId)).toBe(stockBefore + 1);
  });

  it("leaves a buyer's newer order marker alone", async () => {
    const { goodsId, orderId, buyer } = await orderIn('CLOSING');
    const k = keys.forGoods(goodsId);
    await redis.set(k.buyer(buyer), 'some-newer-order');
    expect(await redis.closeWithRestock(k.order(orderId), k.stock, k.held, k.buyer(buyer), 60)).toBe(Transition.Done);
    expect(await redis.get(k.buyer(buyer))).toBe('some-newer-order');
  });

  it.each([
    ['UNPAID', Transition.NotClosing],
    ['PAID', Transition.IsPaid],
    ['NEEDS_REVIEW', Transition.InReview],
  ] as const)('from %s → %i and nothing changes (no unit restocked)', async (status, code) => {
    const { goodsId, t } = await orderIn(status);
    await refusedWithoutChange(goodsId, () => t.closeWithRestock(), code);
  });

  it('unknown order → -10 and nothing changes', async () => {
    const goodsId = await goodsOnSale();
    await refusedWithoutChange(goodsId, () => tx(goodsId, ids.next(goodsId)).closeWithRestock(), Transition.OrderNotFound);
  });

  it(`${N} parallel closeWithRestock on one CLOSING order: stock +1 exactly once`, async () => {
    const { goodsId, orderId, buyer } = await orderIn('CLOSING');
    const k = keys.forGoods(goodsId);
    const stockBefore = await stockOf(goodsId);
    const codes = await Promise.all(Array.from({ length: N }, (_, i) => conn(i).closeWithRestock(k.order(orderId), k.stock, k.held, k.buyer(buyer), 60)));
    expect(codes.filter((c) => c === Transition.Done)).toHaveLength(1);
    expect(codes.filter((c) => c === Transition.AlreadyDone)).toHaveLength(N - 1);
    expect(await stockOf(goodsId)).toBe(stockBefore + 1);
  });
});

describe('markPaid', () => {
  it.each(['UNPAID', 'CLOSING', 'NEEDS_REVIEW'] as const)('%s → PAID once: the unit is sold (never restocked); again → 0', async (status) => {
    const { goodsId, orderId, buyer, t } = await orderIn(status);
    const k = keys.forGoods(goodsId);
    const stockBefore = await stockOf(goodsId);
    expect(await t.markPaid('wx-4200001', PRICE, 1_700_000_000_000)).toBe(Transition.Done);
    const order = await orderHash(goodsId, orderId);
    expect(order).toMatchObject({ status: 'PAID', transactionId: 'wx-4200001', payTime: '1700000000000' });
    expect(order.reviewReason).toBeUndefined();
    expect(await redis.zscore(k.held, orderId)).toBeNull();
    expect(await redis.get(k.buyer(buyer))).toBeNull();
    expect(await stockOf(goodsId)).toBe(stockBefore);
    expect(await redis.ttl(k.order(orderId))).toBeGreaterThan(0);
    // a duplicate notification (even with another transaction id) changes nothing
    await refusedWithoutChange(goodsId, () => t.markPaid('wx-4200002', PRICE, Date.now()), Transition.AlreadyDone);
  });

  it('a payment after close → -12, a wrong amount → -15, an unknown order → -10; nothing changes', async () => {
    const closed = await orderIn('CLOSED');
    await refusedWithoutChange(closed.goodsId, () => closed.t.markPaid('wx-1', PRICE, Date.now()), Transition.IsClosed);
    const unpaid = await orderIn('UNPAID');
    await refusedWithoutChange(unpaid.goodsId, () => unpaid.t.markPaid('wx-2', PRICE - 1, Date.now()), Transition.AmountMismatch);
    await refusedWithoutChange(unpaid.goodsId, () => tx(unpaid.goodsId, ids.next(unpaid.goodsId)).markPaid('wx-3', PRICE, Date.now()), Transition.OrderNotFound);
  });

  it(`${N} parallel markPaid on one order: one 1, the rest 0`, async () => {
    const { goodsId, orderId, buyer } = await orderIn('UNPAID');
    const k = keys.forGoods(goodsId);
    const codes = await Promise.all(
      Array.from({ length: N }, (_, i) => conn(i).markPaid(k.order(orderId), k.held, k.buyer(buyer), `wx-${i}`, PRICE, Date.now(), 60)),
    );
    expect(codes.filter((c) => c === Transition.Done)).toHaveLength(1);
    expect(codes.filter((c) => c === Transition.AlreadyDone)).toHaveLength(N - 1);
    expect(await redis.zcard(k.held)).toBe(0);
  });

  it('pay/close race: parallel markPaid and closeWithRestock on a CLOSING order → exactly one wins', async () => {
    for (let round = 0; round < 10; round += 1) {
      const { goodsId, orderId, buyer } = await orderIn('CLOSING');
      const k = keys.forGoods(goodsId);
      const stockBefore = await stockOf(goodsId);
      const calls = Array.from({ length: 20 }, (_, i) =>
        i % 2 === 0
          ? conn(i).markPaid(k.order(orderId), k.held, k.buyer(buyer), 'wx-race', PRICE, Date.now(), 60).then((c) => ({ op: 'paid', c }))
          : conn(i).closeWithRestock(k.order(orderId), k.stock, k.held, k.buyer(buyer), 60).then((c) => ({ op: 'closed', c })),
      );
      const results = await Promise.all(calls);
      const winners = results.filter((r) => r.c === Transition.Done);
      expect(winners).toHaveLength(1);
      const status = (await orderHash(goodsId, orderId)).status;
      expect(status).toBe(winners[0]!.op === 'paid' ? 'PAID' : 'CLOSED');
      expect(await stockOf(goodsId)).toBe(stockBefore + (status === 'CLOSED' ? 1 : 0));
    }
  });
});

describe('markNeedsReview', () => {
  it.each(['UNPAID', 'CLOSING'] as const)('%s → NEEDS_REVIEW once: the unit stays held at +inf; again → 0', async (status) => {
    const { goodsId, orderId, t } = await orderIn(status);
    const stockBefore = await stockOf(goodsId);
    expect(await t.markNeedsReview('close failed: SIGNERROR')).toBe(Transition.Done);
    expect(await orderHash(goodsId, orderId)).toMatchObject({ status: 'NEEDS_REVIEW', reviewReason: 'close failed: SIGNERROR' });
    expect(await redis.zscore(keys.forGoods(goodsId).held, orderId)).toBe('inf');
    expect(await stockOf(goodsId)).toBe(stockBefore);
    await refusedWithoutChange(goodsId, () => t.markNeedsReview('another reason'), Transition.AlreadyDone);
  });

  it.each([
    ['PAID', Transition.IsPaid],
    ['CLOSED', Transition.IsClosed],
  ] as const)('from %s → %i and nothing changes', async (status, code) => {
    const { goodsId, t } = await orderIn(status);
    await refusedWithoutChange(goodsId, () => t.markNeedsReview('late failure'), code);
  });

  it('unknown order → -10 and nothing changes', async () => {
    const goodsId = await goodsOnSale();
    await refusedWithoutChange(goodsId, () => tx(goodsId, ids.next(goodsId)).markNeedsReview('x'), Transition.OrderNotFound);
  });

  it(`${N} parallel markNeedsReview on one order: one 1, the rest 0`, async () => {
    const { goodsId, orderId } = await orderIn('CLOSING');
    const k = keys.forGoods(goodsId);
    const codes = await Promise.all(Array.from({ length: N }, (_, i) => conn(i).markNeedsReview(k.order(orderId), k.held, `reason ${i}`)));
    expect(codes.filter((c) => c === Transition.Done)).toHaveLength(1);
    expect(codes.filter((c) => c === Transition.AlreadyDone)).toHaveLength(N - 1);
  });
});

describe('key layout', () => {
  it('CRC16 matches the Redis Cluster reference values', () => {
    expect(crc16('123456789')).toBe(0x31c3); // the XMODEM check value Redis documents
    expect(keySlot('foo')).toBe(12182);
    expect(keySlot('{user1000}.following')).toBe(keySlot('{user1000}.followers'));
    expect(hashTag('foo{}{bar}')).toBe('foo{}{bar}');
  });

  it('every key one goods touches hashes to one Cluster slot, the slot of its {g:<id>} tag', async () => {
    const { goodsId, orderId, buyer } = await orderIn('UNPAID');
    const k = keys.forGoods(goodsId);
    const expected = crc16(`g:${goodsId}`) % 16384;
    const named = [k.goods, k.stock, k.held, k.order(orderId), k.buyer(buyer), k.order('99999999999999999999'), k.buyer('x:{y}')];
    const live = Object.keys(await snapshotGoods(redis, keys, goodsId));
    expect(live.length).toBeGreaterThanOrEqual(5);
    for (const key of [...named, ...live]) {
      expect(hashTag(key)).toBe(`g:${goodsId}`);
      expect(keySlot(key)).toBe(expected);
    }
    // different goods spread over the cluster
    const slots = new Set(Array.from({ length: 100 }, (_, i) => keySlot(keys.forGoods(String(i + 1)).stock)));
    expect(slots.size).toBeGreaterThan(90);
  });

  it('a snapshot sees every kind of key (sanity check of the "nothing changed" helper)', async () => {
    const { goodsId } = await orderIn('UNPAID');
    const snap = await snapshot(redis, `${PREFIX}:{g:${goodsId}}:*`);
    expect(Object.values(snap).map((v) => v.type).sort()).toEqual(['hash', 'hash', 'list', 'string', 'string', 'zset']);
  });
});
