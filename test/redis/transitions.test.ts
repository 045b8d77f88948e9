import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrderIdGenerator } from '../../src/domain/orders/order-id.js';
import { Transition } from '../../src/domain/orders/transition-codes.js';
import { type RecordedPayment, orderTransitions } from '../../src/domain/orders/transitions.js';
import { type KeySpace, keySpace } from '../../src/infra/redis/keys.js';
import { defineScripts } from '../../src/infra/redis/scripts.js';
import { crc16, hashTag, keySlot, snapshot, snapshotGoods } from './redis-state.js';

/**
 * The Lua transitions on the machine's Redis, called through the ioredis commands of scripts.ts
 * and the typed wrappers of transitions.ts. Each test file has its own key prefix; every test
 * uses its own goods ids, so tests never see each other's keys (the outbox is per goods too).
 *
 * Final orders (CLOSED, PAID, NEEDS_REVIEW) join their goods' outbox and keep no expiry until
 * the persister has written them to MySQL and acked them (ackOutbox sets the expiry then).
 */

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `tr${randomBytes(4).toString('hex')}`;
const PRICE = 4_990;
const WINDOW_MS = 60_000;
const N = 50;
/** The expiry ackOutbox gives persisted PAID / CLOSED orders in these tests. */
const ACK_TTL_SECONDS = 3_600;
const LATE = 'paid after the order was closed';

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

/**
 * loadGoods as the goods service calls it once it has read MySQL: with the sold-acks generation
 * read before that read (`generation`, default: the current one).
 */
async function loadGoods(
  goodsId: string,
  { stock = 10, startMs = Date.now() - 3_600_000, endMs = Date.now() + 3_600_000, price = PRICE }: GoodsOptions = {},
  r: Redis = redis,
  generation?: string,
) {
  const k = keys.forGoods(goodsId);
  const seen = generation ?? (await r.get(k.soldAcks)) ?? '0';
  return r.loadGoods(k.goods, k.stock, k.held, k.paidPending, k.soldAcks, `goods ${goodsId}`, price, startMs, endMs, stock, seen);
}

async function goodsOnSale(options: GoodsOptions = {}): Promise<string> {
  const goodsId = newGoodsId();
  await loadGoods(goodsId, options);
  return goodsId;
}

/** A goods loaded while on sale whose sale has since ended (loadGoods refuses an ended sale). */
async function endedSale(options: GoodsOptions = {}): Promise<string> {
  const goodsId = await goodsOnSale(options);
  await redis.hset(keys.forGoods(goodsId).goods, 'startMs', Date.now() - 120_000, 'endMs', Date.now() - 60_000);
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

let txSeq = 0;
/** A fresh WeChat-style transaction id (digits only, as the persister requires). */
const newTxId = () => `4200000${String(++txSeq).padStart(21, '0')}`;

/** A payment event as the payment path records it (fields as received from WeChat). */
function payment(transactionId = newTxId(), totalFee = PRICE, payTimeMs = Date.now()): RecordedPayment {
  return {
    transactionId,
    totalFee,
    payTimeMs,
    fields: { transaction_id: transactionId, total_fee: String(totalFee), result_code: 'SUCCESS', time_end: '20261201120000' },
  };
}

/** The raw scripts on one connection of the pool, so parallel callers use different sockets. */
function closeOn(r: Redis, goodsId: string, orderId: string, buyer: string) {
  const k = keys.forGoods(goodsId);
  return r.closeWithRestock(k.order(orderId), k.stock, k.held, k.buyer(buyer), k.outbox, keys.restockChannel).then(([code]) => code);
}

function payOn(r: Redis, goodsId: string, orderId: string, buyer: string, p: RecordedPayment, lateReason = LATE) {
  const k = keys.forGoods(goodsId);
  return r.markPaid(
    k.order(orderId), k.held, k.buyer(buyer), k.outbox, k.paidPending,
    p.transactionId, p.totalFee, p.payTimeMs, JSON.stringify(p.fields), lateReason,
  );
}

function reviewOn(r: Redis, goodsId: string, orderId: string, kind: string, reason: string, p?: RecordedPayment) {
  const k = keys.forGoods(goodsId);
  return r.markNeedsReview(k.order(orderId), k.held, k.outbox, kind, reason, p?.transactionId ?? '', p ? JSON.stringify(p.fields) : '');
}

/** ackOutbox for one goods, as the persister calls it after its MySQL commit. */
function ack(goodsId: string, ...triples: [orderId: string, version: number, written: string][]) {
  const k = keys.forGoods(goodsId);
  return redis.ackOutbox(k.outbox, k.paidPending, k.soldAcks, k.orderPrefix, ACK_TTL_SECONDS, ...triples.flatMap(([o, v, w]) => [o, String(v), w]));
}

/** The goods' outbox members, the order's outboxVersion (0 if none) and its TTL (-1: no expiry). */
async function outboxState(goodsId: string, orderId: string) {
  const k = keys.forGoods(goodsId);
  const [entries, version, ttl] = await Promise.all([redis.zrange(k.outbox, '0', '-1'), redis.hget(k.order(orderId), 'outboxVersion'), redis.ttl(k.order(orderId))]);
  return { entries, version: Number(version ?? 0), ttl };
}

/** The order waits in the outbox exactly once, at `version`, and does not expire. */
async function expectQueued(goodsId: string, orderId: string, version: number) {
  expect(await outboxState(goodsId, orderId)).toEqual({ entries: [orderId], version, ttl: -1 });
}

const outboxScore = async (goodsId: string, orderId: string) => Number(await redis.zscore(keys.forGoods(goodsId).outbox, orderId));
const paidPendingOf = async (goodsId: string) => (await redis.smembers(keys.forGoods(goodsId).paidPending)).sort();

/** An order brought into the given status through the transitions themselves. */
async function orderIn(status: 'UNPAID' | 'CLOSING' | 'CLOSED' | 'PAID' | 'NEEDS_REVIEW', stock = 5) {
  const goodsId = await goodsOnSale({ stock });
  const { orderId, buyer } = await reserved(goodsId);
  const t = tx(goodsId, orderId);
  if (status === 'CLOSING' || status === 'CLOSED') expect(await t.beginClose('TIMEOUT')).toBe(Transition.Done);
  if (status === 'CLOSED') expect(await t.closeWithRestock()).toBe(Transition.Done);
  if (status === 'PAID') expect(await t.markPaid(payment(), LATE)).toBe(Transition.Done);
  if (status === 'NEEDS_REVIEW') expect(await t.markNeedsReview('CLOSE_FAILED', 'close failed: SIGNERROR')).toBe(Transition.Done);
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
  it('refuses a sale that has ended (Redis clock): -2 and nothing written', async () => {
    const goodsId = newGoodsId();
    expect(await loadGoods(goodsId, { startMs: Date.now() - 120_000, endMs: Date.now() - 1 })).toEqual([Transition.NotOnSale, 0]);
    expect(await snapshotGoods(redis, keys, goodsId)).toEqual({});
  });

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
    expect(await tx(goodsId, orderId).markNeedsReview('CLOSE_FAILED', 'manual')).toBe(Transition.Done);
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

  it('after losing the stock key while paid orders wait for the persister, also subtracts paid-pending: no oversell', async () => {
    const goodsId = await goodsOnSale({ stock: 10 });
    const k = keys.forGoods(goodsId);
    await reserved(goodsId); // UNPAID: held
    const paid = await reserved(goodsId);
    expect(await tx(goodsId, paid.orderId).markPaid(payment(), LATE)).toBe(Transition.Done);
    const reviewedThenPaid = await reserved(goodsId);
    expect(await tx(goodsId, reviewedThenPaid.orderId).markNeedsReview('CLOSE_FAILED', 'close failed')).toBe(Transition.Done);
    expect(await tx(goodsId, reviewedThenPaid.orderId).markPaid(payment(), LATE)).toBe(Transition.Done);
    const closed = await reserved(goodsId);
    expect(await tx(goodsId, closed.orderId).beginClose('TIMEOUT')).toBe(Transition.Done);
    expect(await tx(goodsId, closed.orderId).closeWithRestock()).toBe(Transition.Done); // its unit is back
    expect(await stockOf(goodsId)).toBe(7);
    expect(await redis.zcard(k.held)).toBe(1);
    expect(await paidPendingOf(goodsId)).toEqual([paid.orderId, reviewedThenPaid.orderId].sort());

    // MySQL has not counted the two sales yet: its stock_count is still 10
    await redis.del(k.stock);
    expect(await loadGoods(goodsId, { stock: 10 })).toEqual([1, 10 - 1 - 2]);

    // the persister counts the sales (stock_count 10 → 8) and acks: paid-pending empties, same figure
    expect(await ack(goodsId, [paid.orderId, 1, 'PAID'], [reviewedThenPaid.orderId, 2, 'PAID'], [closed.orderId, 1, 'CLOSED'])).toBe(3);
    expect(await paidPendingOf(goodsId)).toEqual([]);
    await redis.del(k.stock);
    expect(await loadGoods(goodsId, { stock: 8 })).toEqual([1, 8 - 1]);

    // and the reloaded stock sells exactly the units nobody holds or has bought
    const replies = await Promise.all(Array.from({ length: 3 * N }, (_, i) => reserve(goodsId, `late-buyer-${i}`, ids.next(goodsId), conn(i))));
    expect(replies.filter(([code]) => code === Transition.Done)).toHaveLength(7);
    expect(await stockOf(goodsId)).toBe(0);
    expect(await redis.zcard(k.held)).toBe(1 + 7); // + 2 sold = the 10 units MySQL started with
  });

  it('refuses a durable count read before the persister acked a sale (it would oversell) and takes a fresh one', async () => {
    const goodsId = await goodsOnSale({ stock: 5 });
    const k = keys.forGoods(goodsId);
    const order = await reserved(goodsId);
    expect(await tx(goodsId, order.orderId).markPaid(payment(), LATE)).toBe(Transition.Done);
    await redis.del(k.stock);
    // a loader reads the generation, then MySQL: stock_count 5 (the sale not yet counted)…
    const before = (await redis.get(k.soldAcks)) ?? '0';
    // …meanwhile the persister commits stock_count 4 and acks: the sale leaves paid-pending
    expect(await ack(goodsId, [order.orderId, 1, 'PAID'])).toBe(1);
    expect(await redis.get(k.soldAcks)).not.toBe(before);
    // loading 5 - 0 held - 0 pending would sell a unit twice: refused, nothing set
    expect(await loadGoods(goodsId, { stock: 5 }, redis, before)).toEqual([Transition.StaleDurableStock, 0]);
    expect(await redis.exists(k.stock)).toBe(0);
    expect(await loadGoods(goodsId, { stock: 5 }, redis, '')).toEqual([Transition.StaleDurableStock, 0]); // unknown generation
    // the fresh read after the new generation: 4
    expect(await loadGoods(goodsId, { stock: 4 })).toEqual([1, 4]);
    // a live counter never needs the generation
    expect(await loadGoods(goodsId, { stock: 99 }, redis, 'whatever')).toEqual([0, 4]);
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
    ['sale ended', Transition.NotOnSale, () => endedSale()],
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
    const codes = await Promise.all(Array.from({ length: N }, (_, i) => conn(i).beginClose(k.order(orderId), k.held, 'TIMEOUT', '0', 0).then(([code]) => code)));
    expect(codes.filter((c) => c === Transition.Done)).toHaveLength(1);
    expect(codes.filter((c) => c === Transition.AlreadyClosing)).toHaveLength(N - 1);
  });
});

describe('beginPay / endPay / the close delay (the pay/close lease and the 5-minute rule)', () => {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('a close begun while a /pay is in flight waits for it, then for the WeChat order to be old enough; no /pay once it has begun', async () => {
    const { goodsId, orderId, buyer, t } = await orderIn('UNPAID');
    expect(await t.beginPay(5_000)).toBe(Transition.Done);
    const inFlight = await t.beginCloseAndCheck('TIMEOUT', 300);
    expect(inFlight).toMatchObject({ code: Transition.Done, wait: { reason: 'pay-in-flight' }, userId: buyer });
    expect(inFlight.wait.waitMs).toBeGreaterThan(4_000);
    expect(await t.beginPay(5_000)).toBe(Transition.IsClosing); // no /pay once a close has begun
    expect(await t.endPay(true)).toBe(Transition.Done); // the one in flight ends, having reached WeChat
    // the close job's re-check: the same script, now AlreadyClosing
    const young = await t.beginCloseAndCheck('TIMEOUT', 300);
    expect(young).toMatchObject({ code: Transition.AlreadyClosing, wait: { reason: 'wechat-order-too-young' } });
    expect(young.wait.waitMs).toBeGreaterThan(200);
    expect(young.wait.waitMs).toBeLessThanOrEqual(300);
    await sleep(320);
    expect((await t.beginCloseAndCheck('TIMEOUT', 300)).wait).toEqual({ waitMs: 0, reason: 'none' });
    expect((await orderHash(goodsId, orderId)).payLeases).toBe('0');
  });

  it('an order never created at WeChat closes at once; the answer names its buyer', async () => {
    const { buyer, t } = await orderIn('UNPAID');
    expect(await t.beginCloseAndCheck('USER_CANCEL', 300)).toEqual({ code: Transition.Done, wait: { waitMs: 0, reason: 'none' }, userId: buyer });
  });

  it('a final, reviewed or unknown order: the code only, nothing to wait for', async () => {
    const none = { wait: { waitMs: 0, reason: 'none' }, userId: '' };
    expect(await (await orderIn('PAID')).t.beginCloseAndCheck('TIMEOUT', 300)).toEqual({ code: Transition.IsPaid, ...none });
    expect(await (await orderIn('NEEDS_REVIEW')).t.beginCloseAndCheck('TIMEOUT', 300)).toEqual({ code: Transition.InReview, ...none });
    expect(await tx(newGoodsId(), ids.next('1')).beginCloseAndCheck('TIMEOUT', 300)).toEqual({ code: Transition.OrderNotFound, ...none });
  });

  it('a /pay that died before endPay: once its lease lapses, the lease end counts as the WeChat order\'s creation', async () => {
    const { t } = await orderIn('UNPAID');
    expect(await t.beginPay(100)).toBe(Transition.Done); // …and the process dies
    await sleep(150);
    const delay = (await t.beginCloseAndCheck('TIMEOUT', 300)).wait;
    expect(delay.reason).toBe('wechat-order-too-young');
    expect(delay.waitMs).toBeGreaterThan(150);
    await sleep(delay.waitMs + 20);
    expect((await t.beginCloseAndCheck('TIMEOUT', 300)).wait.reason).toBe('none');
  });

  it('an endPay that did not reach WeChat stamps nothing; the latest call that did is the one counted', async () => {
    const { goodsId, orderId, t } = await orderIn('UNPAID');
    expect(await t.beginPay(5_000)).toBe(Transition.Done);
    expect(await t.endPay(false)).toBe(Transition.Done);
    expect((await orderHash(goodsId, orderId)).wechatOrderAt).toBeUndefined();
    expect(await t.beginPay(5_000)).toBe(Transition.Done);
    expect(await t.endPay(true)).toBe(Transition.Done);
    const first = Number((await orderHash(goodsId, orderId)).wechatOrderAt);
    await sleep(5);
    expect(await t.beginPay(5_000)).toBe(Transition.Done);
    expect(await t.endPay(true)).toBe(Transition.Done);
    expect(Number((await orderHash(goodsId, orderId)).wechatOrderAt)).toBeGreaterThan(first);
  });

  it('refuses PAID, CLOSED and NEEDS_REVIEW orders, and unknown ones', async () => {
    expect(await (await orderIn('PAID')).t.beginPay(1_000)).toBe(Transition.IsPaid);
    expect(await (await orderIn('CLOSED')).t.beginPay(1_000)).toBe(Transition.IsClosed);
    expect(await (await orderIn('NEEDS_REVIEW')).t.beginPay(1_000)).toBe(Transition.InReview);
    expect(await tx(newGoodsId(), ids.next('1')).beginPay(1_000)).toBe(Transition.OrderNotFound);
  });
});

describe('closeWithRestock', () => {
  it('CLOSING → CLOSED once: stock +1, held entry and buyer marker gone, queued in the outbox without expiry; again → 0', async () => {
    const { goodsId, orderId, buyer, t } = await orderIn('CLOSING');
    const k = keys.forGoods(goodsId);
    const stockBefore = await stockOf(goodsId);
    const before = Date.now();
    expect(await t.closeWithRestock()).toBe(Transition.Done);
    expect(await stockOf(goodsId)).toBe(stockBefore + 1);
    expect(await redis.zscore(k.held, orderId)).toBeNull();
    expect(await redis.get(k.buyer(buyer))).toBeNull();
    const order = await orderHash(goodsId, orderId);
    expect(order.status).toBe('CLOSED');
    expect(Number(order.closedAt)).toBeGreaterThan(0);
    await expectQueued(goodsId, orderId, 1);
    // the entry's score is the server time the order started waiting
    expect(Math.abs((await outboxScore(goodsId, orderId)) - before)).toBeLessThan(5_000);
    expect(await paidPendingOf(goodsId)).toEqual([]);
    await refusedWithoutChange(goodsId, () => t.closeWithRestock(), Transition.AlreadyDone);
    expect(await stockOf(goodsId)).toBe(stockBefore + 1);
  });

  it("leaves a buyer's newer order marker alone", async () => {
    const { goodsId, orderId, buyer } = await orderIn('CLOSING');
    const k = keys.forGoods(goodsId);
    await redis.set(k.buyer(buyer), 'some-newer-order');
    expect(await closeOn(redis, goodsId, orderId, buyer)).toBe(Transition.Done);
    expect(await redis.get(k.buyer(buyer))).toBe('some-newer-order');
  });

  it.each([
    ['UNPAID', Transition.NotClosing],
    ['PAID', Transition.IsPaid],
    ['NEEDS_REVIEW', Transition.InReview],
  ] as const)('from %s → %i and nothing changes (no unit restocked, nothing queued)', async (status, code) => {
    const { goodsId, t } = await orderIn(status);
    await refusedWithoutChange(goodsId, () => t.closeWithRestock(), code);
  });

  it('unknown order → -10 and nothing changes', async () => {
    const goodsId = await goodsOnSale();
    await refusedWithoutChange(goodsId, () => tx(goodsId, ids.next(goodsId)).closeWithRestock(), Transition.OrderNotFound);
  });

  it('tells how late the close was (closedAt − deadline, Redis clock) and why, for the metrics; a repeat tells nothing', async () => {
    const { goodsId, orderId, t } = await orderIn('UNPAID');
    expect(await t.beginClose('USER_CANCEL')).toBe(Transition.Done);
    const [code, lateMs, reason] = await t.closeWithRestockMeasured();
    const order = await orderHash(goodsId, orderId);
    expect([code, lateMs, reason]).toEqual([Transition.Done, Number(order.closedAt) - Number(order.deadline), 'USER_CANCEL']);
    expect(await t.closeWithRestockMeasured()).toEqual([Transition.AlreadyDone, 0, '']);
  });

  it(`${N} parallel closeWithRestock on one CLOSING order: stock +1 and one outbox append, exactly once`, async () => {
    const { goodsId, orderId, buyer } = await orderIn('CLOSING');
    const stockBefore = await stockOf(goodsId);
    const codes = await Promise.all(Array.from({ length: N }, (_, i) => closeOn(conn(i), goodsId, orderId, buyer)));
    expect(codes.filter((c) => c === Transition.Done)).toHaveLength(1);
    expect(codes.filter((c) => c === Transition.AlreadyDone)).toHaveLength(N - 1);
    expect(await stockOf(goodsId)).toBe(stockBefore + 1);
    await expectQueued(goodsId, orderId, 1);
  });
});

describe('markPaid', () => {
  it.each([
    ['UNPAID', 1],
    ['CLOSING', 1],
    ['NEEDS_REVIEW', 2],
  ] as const)('%s → PAID once: the unit is sold (never restocked), paid-pending, queued without expiry; again → 0', async (status, version) => {
    const { goodsId, orderId, buyer, t } = await orderIn(status);
    const k = keys.forGoods(goodsId);
    const stockBefore = await stockOf(goodsId);
    const p = payment(newTxId(), PRICE, 1_700_000_000_000);
    expect(await t.markPaid(p, LATE)).toBe(Transition.Done);
    const order = await orderHash(goodsId, orderId);
    expect(order).toMatchObject({ status: 'PAID', transactionId: p.transactionId, payTime: '1700000000000' });
    expect(JSON.parse(order[`payment:${p.transactionId}`]!)).toEqual(p.fields);
    expect(order.reviewReason).toBeUndefined();
    expect(order['review:PAID_AFTER_CLOSE']).toBeUndefined();
    expect(await redis.zscore(k.held, orderId)).toBeNull();
    expect(await redis.get(k.buyer(buyer))).toBeNull();
    expect(await stockOf(goodsId)).toBe(stockBefore);
    expect(await paidPendingOf(goodsId)).toEqual([orderId]);
    // one outbox entry (a NEEDS_REVIEW order was queued already: still one entry, one more version)
    await expectQueued(goodsId, orderId, version);
    // a duplicate notification (even with another transaction id) changes nothing
    await refusedWithoutChange(goodsId, () => t.markPaid(payment(), LATE), Transition.AlreadyDone);
  });

  it('a NEEDS_REVIEW order paid later keeps the outbox score of its first append (ZADD NX)', async () => {
    const { goodsId, orderId, t } = await orderIn('NEEDS_REVIEW');
    const firstScore = await outboxScore(goodsId, orderId);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await t.markPaid(payment(), LATE)).toBe(Transition.Done);
    expect(await outboxScore(goodsId, orderId)).toBe(firstScore);
    await expectQueued(goodsId, orderId, 2);
  });

  it('a wrong amount → -15, an unknown order → -10; nothing changes', async () => {
    const unpaid = await orderIn('UNPAID');
    await refusedWithoutChange(unpaid.goodsId, () => unpaid.t.markPaid(payment(newTxId(), PRICE - 1), LATE), Transition.AmountMismatch);
    await refusedWithoutChange(unpaid.goodsId, () => tx(unpaid.goodsId, ids.next(unpaid.goodsId)).markPaid(payment(), LATE), Transition.OrderNotFound);
  });

  it('a payment after close → -12: recorded once (payment + PAID_AFTER_CLOSE review), queued again; the order stays CLOSED', async () => {
    const { goodsId, orderId, t } = await orderIn('CLOSED');
    const k = keys.forGoods(goodsId);
    const stockBefore = await stockOf(goodsId);
    const p = payment();
    expect(await t.markPaid(p, 'paid 5 s after the close')).toBe(Transition.IsClosed);
    const order = await orderHash(goodsId, orderId);
    expect(order).toMatchObject({ status: 'CLOSED', 'review:PAID_AFTER_CLOSE': 'paid 5 s after the close' });
    expect(JSON.parse(order[`payment:${p.transactionId}`]!)).toEqual(p.fields);
    expect(order.transactionId).toBeUndefined();
    expect(order.payTime).toBeUndefined();
    // the unit was already back on sale: no sale, nothing held, nothing paid-pending
    expect(await stockOf(goodsId)).toBe(stockBefore);
    expect(await redis.zcard(k.held)).toBe(0);
    expect(await paidPendingOf(goodsId)).toEqual([]);
    await expectQueued(goodsId, orderId, 2);
    // the same notification again (any reason) changes nothing, and says so (-20)
    await refusedWithoutChange(goodsId, () => t.markPaid(p, 'redelivered'), Transition.PaymentKnown);
    // even with a wrong amount: the same transaction is already recorded
    await refusedWithoutChange(goodsId, () => t.markPaid({ ...p, totalFee: PRICE + 1 }, 'redelivered'), Transition.PaymentKnown);
  });

  it(`${N} parallel markPaid on one order: one 1, the rest 0; one payment, one outbox append`, async () => {
    const { goodsId, orderId, buyer } = await orderIn('UNPAID');
    const k = keys.forGoods(goodsId);
    const payments = Array.from({ length: N }, () => payment());
    const codes = await Promise.all(payments.map((p, i) => payOn(conn(i), goodsId, orderId, buyer, p)));
    expect(codes.filter((c) => c === Transition.Done)).toHaveLength(1);
    expect(codes.filter((c) => c === Transition.AlreadyDone)).toHaveLength(N - 1);
    expect(await redis.zcard(k.held)).toBe(0);
    const order = await orderHash(goodsId, orderId);
    const winner = payments[codes.indexOf(Transition.Done)]!;
    expect(order.transactionId).toBe(winner.transactionId);
    expect(Object.keys(order).filter((f) => f.startsWith('payment:'))).toEqual([`payment:${winner.transactionId}`]);
    expect(await paidPendingOf(goodsId)).toEqual([orderId]);
    await expectQueued(goodsId, orderId, 1);
  });

  it(`${N} parallel deliveries of one payment after close: one -12, the rest -20; recorded and appended once`, async () => {
    const { goodsId, orderId, buyer } = await orderIn('CLOSED');
    const p = payment();
    const codes = await Promise.all(Array.from({ length: N }, (_, i) => payOn(conn(i), goodsId, orderId, buyer, p, `late ${i}`)));
    expect(codes.filter((c) => c === Transition.IsClosed)).toHaveLength(1);
    expect(codes.filter((c) => c === Transition.PaymentKnown)).toHaveLength(N - 1);
    const order = await orderHash(goodsId, orderId);
    expect(Object.keys(order).filter((f) => f.startsWith('payment:'))).toEqual([`payment:${p.transactionId}`]);
    expect(order['review:PAID_AFTER_CLOSE']).toMatch(/^late \d+$/);
    await expectQueued(goodsId, orderId, 2);
  });

  it('distinct payments after close are each recorded: the version moves once per new payment', async () => {
    const { goodsId, orderId, buyer } = await orderIn('CLOSED');
    const payments = Array.from({ length: 5 }, () => payment());
    const codes = await Promise.all(payments.map((p, i) => payOn(conn(i), goodsId, orderId, buyer, p)));
    expect(codes.every((c) => c === Transition.IsClosed)).toBe(true);
    const order = await orderHash(goodsId, orderId);
    expect(Object.keys(order).filter((f) => f.startsWith('payment:')).sort()).toEqual(payments.map((p) => `payment:${p.transactionId}`).sort());
    await expectQueued(goodsId, orderId, 1 + payments.length);
  });

  it('pay/close race: parallel markPaid and closeWithRestock on a CLOSING order → exactly one wins, one outbox entry', async () => {
    for (let round = 0; round < 10; round += 1) {
      const { goodsId, orderId, buyer } = await orderIn('CLOSING');
      const stockBefore = await stockOf(goodsId);
      const p = payment();
      const calls = Array.from({ length: 20 }, (_, i) =>
        i % 2 === 0
          ? payOn(conn(i), goodsId, orderId, buyer, p).then((c) => ({ op: 'paid', c }))
          : closeOn(conn(i), goodsId, orderId, buyer).then((c) => ({ op: 'closed', c })),
      );
      const results = await Promise.all(calls);
      const winners = results.filter((r) => r.c === Transition.Done);
      expect(winners).toHaveLength(1);
      const order = await orderHash(goodsId, orderId);
      expect(order.status).toBe(winners[0]!.op === 'paid' ? 'PAID' : 'CLOSED');
      expect(await stockOf(goodsId)).toBe(stockBefore + (order.status === 'CLOSED' ? 1 : 0));
      if (order.status === 'PAID') {
        expect(await paidPendingOf(goodsId)).toEqual([orderId]);
        await expectQueued(goodsId, orderId, 1);
      } else {
        // every payment call came after the close: the payment is recorded once, for a refund
        expect(results.filter((r) => r.op === 'paid').every((r) => r.c === Transition.IsClosed)).toBe(true);
        expect(order[`payment:${p.transactionId}`]).toBeDefined();
        expect(await paidPendingOf(goodsId)).toEqual([]);
        await expectQueued(goodsId, orderId, 2);
      }
    }
  });
});

describe('markNeedsReview', () => {
  it.each(['UNPAID', 'CLOSING'] as const)('%s → NEEDS_REVIEW once: the unit stays held at +inf, queued without expiry; again → 0', async (status) => {
    const { goodsId, orderId, t } = await orderIn(status);
    const stockBefore = await stockOf(goodsId);
    expect(await t.markNeedsReview('CLOSE_FAILED', 'close failed: SIGNERROR')).toBe(Transition.Done);
    expect(await orderHash(goodsId, orderId)).toMatchObject({
      status: 'NEEDS_REVIEW', reviewReason: 'close failed: SIGNERROR', 'review:CLOSE_FAILED': 'close failed: SIGNERROR',
    });
    expect(await redis.zscore(keys.forGoods(goodsId).held, orderId)).toBe('inf');
    expect(await stockOf(goodsId)).toBe(stockBefore);
    await expectQueued(goodsId, orderId, 1);
    // the same kind again (whatever the words) changes nothing
    await refusedWithoutChange(goodsId, () => t.markNeedsReview('CLOSE_FAILED', 'another reason'), Transition.AlreadyDone);
  });

  it('a known kind and payment change nothing; a new payment or a new kind is recorded and bumps the version', async () => {
    const { goodsId, orderId, t } = await orderIn('CLOSING');
    const first = payment(newTxId(), PRICE - 1);
    expect(await t.markNeedsReview('AMOUNT_MISMATCH', 'paid 4989, expected 4990', first)).toBe(Transition.Done);
    expect(JSON.parse((await orderHash(goodsId, orderId))[`payment:${first.transactionId}`]!)).toEqual(first.fields);
    await expectQueued(goodsId, orderId, 1);
    const firstScore = await outboxScore(goodsId, orderId);

    // known kind + known payment, and known kind without a payment: no change, no version bump
    await refusedWithoutChange(goodsId, () => t.markNeedsReview('AMOUNT_MISMATCH', 'redelivered', first), Transition.AlreadyDone);
    await refusedWithoutChange(goodsId, () => t.markNeedsReview('AMOUNT_MISMATCH', 'no payment this time'), Transition.AlreadyDone);

    // known kind, new payment: recorded
    const second = payment(newTxId(), PRICE + 1);
    expect(await t.markNeedsReview('AMOUNT_MISMATCH', 'paid 4991, expected 4990', second)).toBe(Transition.AlreadyDone);
    expect(JSON.parse((await orderHash(goodsId, orderId))[`payment:${second.transactionId}`]!)).toEqual(second.fields);
    await expectQueued(goodsId, orderId, 2);

    // new kind: recorded
    expect(await t.markNeedsReview('CLOSE_FAILED', 'close failed: SIGNERROR')).toBe(Transition.AlreadyDone);
    expect(await orderHash(goodsId, orderId)).toMatchObject({
      status: 'NEEDS_REVIEW',
      reviewReason: 'close failed: SIGNERROR',
      'review:CLOSE_FAILED': 'close failed: SIGNERROR',
      'review:AMOUNT_MISMATCH': 'paid 4991, expected 4990',
    });
    await expectQueued(goodsId, orderId, 3);
    await refusedWithoutChange(goodsId, () => t.markNeedsReview('CLOSE_FAILED', 'close failed again'), Transition.AlreadyDone);
    // the entry still carries the time the order first started waiting
    expect(await outboxScore(goodsId, orderId)).toBe(firstScore);
  });

  it.each([
    ['PAID', Transition.IsPaid],
    ['CLOSED', Transition.IsClosed],
  ] as const)('from %s → %i and nothing changes', async (status, code) => {
    const { goodsId, t } = await orderIn(status);
    await refusedWithoutChange(goodsId, () => t.markNeedsReview('CLOSE_FAILED', 'late failure'), code);
  });

  it('unknown order → -10 and nothing changes', async () => {
    const goodsId = await goodsOnSale();
    await refusedWithoutChange(goodsId, () => tx(goodsId, ids.next(goodsId)).markNeedsReview('CLOSE_FAILED', 'x'), Transition.OrderNotFound);
  });

  it(`${N} parallel markNeedsReview of one kind on one order: one 1, the rest 0, one outbox append`, async () => {
    const { goodsId, orderId } = await orderIn('CLOSING');
    const codes = await Promise.all(Array.from({ length: N }, (_, i) => reviewOn(conn(i), goodsId, orderId, 'CLOSE_FAILED', `reason ${i}`)));
    expect(codes.filter((c) => c === Transition.Done)).toHaveLength(1);
    expect(codes.filter((c) => c === Transition.AlreadyDone)).toHaveLength(N - 1);
    await expectQueued(goodsId, orderId, 1);
  });

  it(`${N} parallel markNeedsReview with one payment each: every payment recorded, one version per payment`, async () => {
    const { goodsId, orderId } = await orderIn('UNPAID');
    const payments = Array.from({ length: N }, () => payment(newTxId(), PRICE - 1));
    const codes = await Promise.all(payments.map((p, i) => reviewOn(conn(i), goodsId, orderId, 'AMOUNT_MISMATCH', 'wrong amount', p)));
    expect(codes.filter((c) => c === Transition.Done)).toHaveLength(1);
    expect(codes.filter((c) => c === Transition.AlreadyDone)).toHaveLength(N - 1);
    const order = await orderHash(goodsId, orderId);
    expect(Object.keys(order).filter((f) => f.startsWith('payment:'))).toHaveLength(N);
    await expectQueued(goodsId, orderId, N);
  });
});

describe('ackOutbox', () => {
  it('removes the acked entries and lets PAID / CLOSED orders expire, never NEEDS_REVIEW; returns the count removed', async () => {
    const goodsId = await goodsOnSale({ stock: 10 });
    const [paid, closed, review] = [await reserved(goodsId), await reserved(goodsId), await reserved(goodsId)];
    expect(await tx(goodsId, paid.orderId).markPaid(payment(), LATE)).toBe(Transition.Done);
    expect(await tx(goodsId, closed.orderId).beginClose('USER_CANCEL')).toBe(Transition.Done);
    expect(await tx(goodsId, closed.orderId).closeWithRestock()).toBe(Transition.Done);
    expect(await tx(goodsId, review.orderId).markNeedsReview('CLOSE_FAILED', 'close failed')).toBe(Transition.Done);
    const k = keys.forGoods(goodsId);
    expect((await redis.zrange(k.outbox, '0', '-1')).sort()).toEqual([paid.orderId, closed.orderId, review.orderId].sort());

    expect(await ack(goodsId, [paid.orderId, 1, 'PAID'], [closed.orderId, 1, 'CLOSED'], [review.orderId, 1, 'NEEDS_REVIEW'])).toBe(3);
    expect(await redis.zcard(k.outbox)).toBe(0);
    for (const { orderId } of [paid, closed]) {
      const ttl = await redis.ttl(k.order(orderId));
      expect(ttl).toBeGreaterThan(ACK_TTL_SECONDS - 60);
      expect(ttl).toBeLessThanOrEqual(ACK_TTL_SECONDS);
    }
    expect(await redis.ttl(k.order(review.orderId))).toBe(-1);
    expect(await paidPendingOf(goodsId)).toEqual([]);

    // the same batch acked again (a replay) removes nothing
    expect(await ack(goodsId, [paid.orderId, 1, 'PAID'], [closed.orderId, 1, 'CLOSED'], [review.orderId, 1, 'NEEDS_REVIEW'])).toBe(0);
  });

  it('keeps an entry whose order moved on after the read, and its paid-pending mark unless the sale was written', async () => {
    const { goodsId, orderId, t } = await orderIn('NEEDS_REVIEW');
    // the persister reads version 1 (NEEDS_REVIEW); the payment lands before its ack
    expect(await t.markPaid(payment(), LATE)).toBe(Transition.Done);
    expect(await ack(goodsId, [orderId, 1, 'NEEDS_REVIEW'])).toBe(0);
    await expectQueued(goodsId, orderId, 2);
    expect(await paidPendingOf(goodsId)).toEqual([orderId]);
    // the next batch writes the PAID state and acks it
    expect(await ack(goodsId, [orderId, 2, 'PAID'])).toBe(1);
    expect(await outboxState(goodsId, orderId)).toMatchObject({ entries: [], version: 2 });
    expect(await redis.ttl(keys.forGoods(goodsId).order(orderId))).toBeGreaterThan(0);
    expect(await paidPendingOf(goodsId)).toEqual([]);
  });

  it('takes a PAID order out of paid-pending even when its version moved on (MySQL has counted the sale)', async () => {
    const { goodsId, orderId } = await orderIn('PAID');
    // no transition changes a PAID order today: a later append is simulated by bumping the version
    await redis.hincrby(keys.forGoods(goodsId).order(orderId), 'outboxVersion', 1);
    expect(await ack(goodsId, [orderId, 1, 'PAID'])).toBe(0);
    expect(await paidPendingOf(goodsId)).toEqual([]);
    await expectQueued(goodsId, orderId, 2);
  });

  it('a reopened order (written as nothing: not final) leaves the outbox without an expiry', async () => {
    const { goodsId, orderId, t } = await orderIn('NEEDS_REVIEW');
    expect(await t.beginClose('TIMEOUT', true)).toBe(Transition.Done);
    expect(await ack(goodsId, [orderId, 1, ''])).toBe(1);
    expect(await outboxState(goodsId, orderId)).toEqual({ entries: [], version: 1, ttl: -1 });
    // its next final state queues it again
    expect(await t.closeWithRestock()).toBe(Transition.Done);
    await expectQueued(goodsId, orderId, 2);
  });

  it('an acked CLOSED order that gets a payment after close stops expiring and is queued again', async () => {
    const { goodsId, orderId, t } = await orderIn('CLOSED');
    expect(await ack(goodsId, [orderId, 1, 'CLOSED'])).toBe(1);
    expect(await redis.ttl(keys.forGoods(goodsId).order(orderId))).toBeGreaterThan(0);
    expect(await t.markPaid(payment(), LATE)).toBe(Transition.IsClosed);
    await expectQueued(goodsId, orderId, 2);
    expect(await ack(goodsId, [orderId, 2, 'CLOSED'])).toBe(1);
    expect(await redis.ttl(keys.forGoods(goodsId).order(orderId))).toBeGreaterThan(0);
  });

  it('an order that is not there is ignored: 0 and nothing changes', async () => {
    const { goodsId } = await orderIn('CLOSED');
    await refusedWithoutChange(goodsId, () => ack(goodsId, [ids.next(goodsId), 1, 'PAID']), 0);
    await refusedWithoutChange(goodsId, () => ack(goodsId), 0);
  });

  it(`${N} parallel acks of one batch remove each entry once`, async () => {
    const goodsId = await goodsOnSale({ stock: 10 });
    const orders = [await reserved(goodsId), await reserved(goodsId), await reserved(goodsId)];
    for (const { orderId } of orders) expect(await tx(goodsId, orderId).markPaid(payment(), LATE)).toBe(Transition.Done);
    const k = keys.forGoods(goodsId);
    const triples = orders.flatMap(({ orderId }) => [orderId, '1', 'PAID']);
    const counts = await Promise.all(Array.from({ length: N }, (_, i) => conn(i).ackOutbox(k.outbox, k.paidPending, k.soldAcks, k.orderPrefix, ACK_TTL_SECONDS, ...triples)));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(orders.length);
    expect(await redis.zcard(k.outbox)).toBe(0);
    expect(await paidPendingOf(goodsId)).toEqual([]);
  });
});

describe('setAsideOutbox', () => {
  it('moves an unreadable entry to the rejected hash with the reason; a second call → 0 and nothing changes', async () => {
    const goodsId = await goodsOnSale({ stock: 10 });
    const lost = await reserved(goodsId);
    const kept = await reserved(goodsId);
    for (const { orderId } of [lost, kept]) {
      expect(await tx(goodsId, orderId).beginClose('TIMEOUT')).toBe(Transition.Done);
      expect(await tx(goodsId, orderId).closeWithRestock()).toBe(Transition.Done);
    }
    const k = keys.forGoods(goodsId);
    await redis.del(k.order(lost.orderId)); // deleted by hand
    expect(await redis.setAsideOutbox(k.outbox, k.outboxRejected, lost.orderId, 'the order hash is gone')).toBe(1);
    expect(await redis.zrange(k.outbox, '0', '-1')).toEqual([kept.orderId]);
    expect(await redis.hgetall(k.outboxRejected)).toEqual({ [lost.orderId]: 'the order hash is gone' });
    await refusedWithoutChange(goodsId, () => redis.setAsideOutbox(k.outbox, k.outboxRejected, lost.orderId, 'another reason'), 0);
  });

  it(`${N} parallel set-asides of one entry: exactly one moves it`, async () => {
    const goodsId = await goodsOnSale();
    const k = keys.forGoods(goodsId);
    await redis.zadd(k.outbox, Date.now(), 'not-an-order');
    const codes = await Promise.all(Array.from({ length: N }, (_, i) => conn(i).setAsideOutbox(k.outbox, k.outboxRejected, 'not-an-order', `reason ${i}`)));
    expect(codes.filter((c) => c === 1)).toHaveLength(1);
    expect(await redis.zcard(k.outbox)).toBe(0);
    expect(await redis.hget(k.outboxRejected, 'not-an-order')).toBe(`reason ${codes.indexOf(1)}`);
  });
});

describe('claimLease / releaseLease', () => {
  const newLease = () => keys.forGoods(newGoodsId()).persisterLease;

  it('one holder at a time: the holder renews it, only the holder releases it', async () => {
    const lease = newLease();
    expect(await redis.claimLease(lease, 'p1', 1_000)).toBe(1);
    expect(await redis.get(lease)).toBe('p1');
    expect(await redis.claimLease(lease, 'p2', 60_000)).toBe(0);
    expect(await redis.get(lease)).toBe('p1');
    expect(await redis.pttl(lease)).toBeLessThanOrEqual(1_000);
    // renewal by the holder extends it
    expect(await redis.claimLease(lease, 'p1', 60_000)).toBe(1);
    expect(await redis.pttl(lease)).toBeGreaterThan(1_000);
    // release only by the holder
    expect(await redis.releaseLease(lease, 'p2')).toBe(0);
    expect(await redis.get(lease)).toBe('p1');
    expect(await redis.releaseLease(lease, 'p1')).toBe(1);
    expect(await redis.exists(lease)).toBe(0);
    expect(await redis.releaseLease(lease, 'p1')).toBe(0);
    // free again
    expect(await redis.claimLease(lease, 'p2', 60_000)).toBe(1);
    expect(await redis.get(lease)).toBe('p2');
  });

  it('an expired lease is free for another holder', async () => {
    const lease = newLease();
    expect(await redis.claimLease(lease, 'p1', 50)).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await redis.releaseLease(lease, 'p1')).toBe(0);
    expect(await redis.claimLease(lease, 'p2', 60_000)).toBe(1);
    expect(await redis.get(lease)).toBe('p2');
  });

  it(`${N} parallel claims by distinct holders: exactly one holds it`, async () => {
    const lease = newLease();
    const codes = await Promise.all(Array.from({ length: N }, (_, i) => conn(i).claimLease(lease, `p${i}`, 60_000)));
    expect(codes.filter((c) => c === 1)).toHaveLength(1);
    expect(await redis.get(lease)).toBe(`p${codes.indexOf(1)}`);
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
    const named = [
      k.goods, k.stock, k.held, k.timers, k.outbox, k.outboxRejected, k.paidPending, k.persisterLease, `${k.orderPrefix}${orderId}`,
      k.order(orderId), k.buyer(buyer), k.order('99999999999999999999'), k.buyer('x:{y}'),
    ];
    expect(`${k.orderPrefix}${orderId}`).toBe(k.order(orderId)); // what ackOutbox builds from ARGV
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

describe('retireGoods', () => {
  const TTL = 600;
  const retire = (goodsId: string) => {
    const k = keys.forGoods(goodsId);
    return redis.retireGoods(k.goods, k.stock, k.held, k.timers, k.outbox, k.paidPending, k.soldAcks, k.sweepCursor, TTL);
  };
  const ttlOf = (key: string) => redis.ttl(key);

  it('a sale still running → 0 and nothing changes', async () => {
    const goodsId = await goodsOnSale();
    await refusedWithoutChange(goodsId, () => retire(goodsId), 0);
  });

  it('an ended sale with anything in flight → -1 and nothing changes: a held unit, a timer request, an outbox entry, a paid order MySQL lacks', async () => {
    const held = await endedSale();
    await redis.zadd(keys.forGoods(held).held, Date.now(), 'o-held');
    const timer = await endedSale();
    await redis.rpush(keys.forGoods(timer).timers, 'o-timer:1');
    const outbox = await endedSale();
    await redis.zadd(keys.forGoods(outbox).outbox, Date.now(), 'o-out');
    const paid = await endedSale();
    await redis.sadd(keys.forGoods(paid).paidPending, 'o-paid');
    for (const goodsId of [held, timer, outbox, paid]) await refusedWithoutChange(goodsId, () => retire(goodsId), -1);
  });

  it('an ended, settled sale → 1: goods, stock and sold-acks expire, the sweep cursor goes, order hashes are left alone; again → 1', async () => {
    const goodsId = await goodsOnSale({ stock: 3 });
    const k = keys.forGoods(goodsId);
    const { orderId } = await reserved(goodsId);
    await redis.lpop(k.timers); // (pumped)
    await orderTransitions(deps(), orderId, goodsId).beginClose('TIMEOUT');
    await orderTransitions(deps(), orderId, goodsId).closeWithRestock();
    await redis.zrem(k.outbox, orderId); // (persisted)
    await redis.incr(k.soldAcks);
    await redis.set(k.sweepCursor, 10);
    await redis.hset(k.goods, 'endMs', Date.now() - 1);

    expect(await retire(goodsId)).toBe(1);
    for (const key of [k.goods, k.stock, k.soldAcks]) expect(await ttlOf(key), key).toBeGreaterThan(TTL - 5);
    expect(await redis.exists(k.sweepCursor)).toBe(0);
    expect(await redis.get(k.stock)).toBe('3');
    expect(await ttlOf(k.order(orderId))).toBe(-1); // (ackOutbox's business)
    expect(await redis.hget(k.goods, 'retiredAt')).not.toBeNull();
    expect(await retire(goodsId)).toBe(1);
  });

  it('goods keys already gone (expired) and nothing in flight → 2; with something in flight → -1', async () => {
    const gone = newGoodsId();
    expect(await retire(gone)).toBe(2);
    await redis.zadd(keys.forGoods(gone).outbox, Date.now(), 'late-payment');
    expect(await retire(gone)).toBe(-1);
  });
});
