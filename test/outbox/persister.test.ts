import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CoreDeps } from '../../src/domain/deps.js';
import { Transition } from '../../src/domain/orders/transition-codes.js';
import { type RecordedPayment, orderTransitions } from '../../src/domain/orders/transitions.js';
import { drainOutboxBatch } from '../../src/domain/outbox/drain-batch.js';
import { GoodsMissingError, writeOutboxBatch } from '../../src/domain/outbox/mysql-batch.js';
import { parseOutboxEntry } from '../../src/domain/outbox/outbox-record.js';
import { startPersister } from '../../src/domain/outbox/persister.js';
import { eventually } from '../../src/sandbox/testing.js';
import { type TestContext, createTestContext } from '../helpers/app.js';
import { type Goods, createGoods, grab, stock, transactionId } from '../payments/support.js';

/**
 * The outbox persister against the real Redis and MariaDB (design §6), driven directly: the
 * transitions through their Lua scripts, the persister's batch with its crash seam. No workers
 * run, so nothing persists behind the test's back.
 */

const PRICE = 250;
let s: TestContext;
let deps: CoreDeps;
let buyerSeq = 0;

beforeAll(async () => {
  s = await createTestContext({ ORDER_TIMEOUT_MS: '600000' });
  deps = s.infra.core;
});
afterAll(async () => s?.close());

const paymentOf = (orderId: string, totalFee = PRICE): RecordedPayment => {
  const tx = transactionId();
  return { transactionId: tx, totalFee, payTimeMs: Date.now(), fields: { out_trade_no: orderId, transaction_id: tx, total_fee: String(totalFee), result_code: 'SUCCESS', time_end: '20261201120000' } };
};

async function grabMany(goods: Goods, n: number): Promise<string[]> {
  return Promise.all(Array.from({ length: n }, () => grab(s, `p-${(buyerSeq += 1)}`, goods.id).then((o) => o.orderId)));
}

const pay = async (goods: Goods, orderId: string, payment = paymentOf(orderId)) => orderTransitions(deps, orderId, goods.id).markPaid(payment, 'late payment');

async function close(goods: Goods, orderId: string): Promise<Transition> {
  const order = orderTransitions(deps, orderId, goods.id);
  await order.beginClose('TIMEOUT');
  return order.closeWithRestock();
}

const drain = (goods: Goods, afterCommit?: () => Promise<void> | void) => drainOutboxBatch(deps, goods.id, { batchSize: 500, ...(afterCommit ? { afterCommit } : {}) });

async function mysqlFigures(goods: Goods) {
  const prisma = deps.prisma;
  const where = { goodsId: BigInt(goods.id) };
  const [row, paid, closed, review, events, counted] = await Promise.all([
    prisma.seckillGoods.findUniqueOrThrow({ where: { id: BigInt(goods.id) } }),
    prisma.seckillOrder.count({ where: { ...where, status: 'PAID' } }),
    prisma.seckillOrder.count({ where: { ...where, status: 'CLOSED' } }),
    prisma.seckillOrder.count({ where: { ...where, status: 'NEEDS_REVIEW' } }),
    prisma.paymentEvent.count({ where: { order: where } }),
    prisma.seckillOrder.count({ where: { ...where, saleCounted: true } }),
  ]);
  return { stockCount: row.stockCount, paid, closed, review, events, counted };
}

const outboxSize = (goods: Goods) => deps.redis.zcard(deps.keys.forGoods(goods.id).outbox);

describe('outbox persister', () => {
  it('a crash between the commit and the ack: the replayed batch changes nothing', async () => {
    const goods = await createGoods(s, PRICE, 20, 'replay');
    const orders = await grabMany(goods, 10);
    for (const id of orders.slice(0, 6)) expect(await pay(goods, id)).toBe(Transition.Done);
    for (const id of orders.slice(6)) expect(await close(goods, id)).toBe(Transition.Done);
    expect(await outboxSize(goods)).toBe(10);

    // "kill -9" right after the commit: the ack never runs
    await expect(drain(goods, () => {
      throw new Error('killed after commit');
    })).rejects.toThrow('killed after commit');
    const afterCrash = await mysqlFigures(goods);
    expect(afterCrash).toEqual({ stockCount: 14, paid: 6, closed: 4, review: 0, events: 6, counted: 6 });
    expect(await outboxSize(goods)).toBe(10);

    const replay = await drain(goods);
    expect(replay).toMatchObject({ taken: 10, persisted: 10, acked: 10, newlySold: 0 });
    expect(await mysqlFigures(goods)).toEqual(afterCrash);
    expect(await outboxSize(goods)).toBe(0);
    expect(await deps.redis.scard(deps.keys.forGoods(goods.id).paidPending)).toBe(0);
    expect(await stock(s, goods.id)).toEqual({ stockCount: 14, available: 14 }); // 20 - 10 grabbed + 4 closed
  });

  it('persisters racing on one batch (any number of processes) count every sale once', async () => {
    const goods = await createGoods(s, PRICE, 100, 'race');
    const orders = await grabMany(goods, 60);
    for (const id of orders.slice(0, 40)) await pay(goods, id);
    for (const id of orders.slice(40)) await close(goods, id);
    const results = await Promise.all(Array.from({ length: 5 }, () => drain(goods)));
    expect(results.reduce((sum, r) => sum + r.newlySold, 0)).toBe(40);
    expect(await mysqlFigures(goods)).toEqual({ stockCount: 60, paid: 40, closed: 20, review: 0, events: 40, counted: 40 });
    expect(await outboxSize(goods)).toBe(0);
  });

  it('never moves a status backwards, whatever order batches commit in', async () => {
    const goods = await createGoods(s, PRICE, 10, 'order');
    const [a, b] = await grabMany(goods, 2);
    const k = deps.keys.forGoods(goods.id);
    // an older read of each order: NEEDS_REVIEW
    for (const id of [a!, b!]) await orderTransitions(deps, id, goods.id).markNeedsReview('CLOSE_FAILED', 'closeorder: SYSTEMERROR');
    const stale = await Promise.all([a!, b!].map(async (id) => parseOutboxEntry(id, goods.id, await deps.redis.hgetall(k.order(id)))));
    // …then the orders moved on to PAID / CLOSED and that newer state committed first
    await pay(goods, a!);
    const order = orderTransitions(deps, b!, goods.id);
    expect(await order.beginClose('TIMEOUT', true)).toBe(Transition.Done);
    expect(await order.closeWithRestock()).toBe(Transition.Done);
    await drain(goods);
    // the stale batch commits last
    const records = stale.map((p) => (p.ok ? p.record : expect.fail(p.reason)));
    await writeOutboxBatch(deps.prisma, goods.id, records);
    const rows = await deps.prisma.seckillOrder.findMany({ where: { id: { in: [a!, b!] } }, orderBy: { id: 'asc' } });
    expect(rows.map((r) => [r.id, r.status, r.reviewReason])).toEqual([[a, 'PAID', null], [b, 'CLOSED', null]].sort());
    // the close that finally worked settled the close-failure review; nothing reopened it
    const items = await deps.prisma.reviewItem.findMany({ where: { orderId: { in: [a!, b!] } } });
    expect(items.map((i) => i.status)).toEqual(['RESOLVED', 'RESOLVED']);
    expect((await mysqlFigures(goods)).stockCount).toBe(9);
  });

  it('an ack after a newer transition keeps the entry: the newer state is persisted next', async () => {
    const goods = await createGoods(s, PRICE, 5, 'newer');
    const [id] = await grabMany(goods, 1);
    await orderTransitions(deps, id!, goods.id).markNeedsReview('CLOSE_FAILED', 'closeorder: SYSTEMERROR');
    const first = await drain(goods, async () => {
      expect(await pay(goods, id!)).toBe(Transition.Done); // WeChat says paid while the batch commits
    });
    expect(first).toMatchObject({ persisted: 1, acked: 0 });
    expect((await deps.prisma.seckillOrder.findUnique({ where: { id: id! } }))?.status).toBe('NEEDS_REVIEW');
    expect(await drain(goods)).toMatchObject({ persisted: 1, acked: 1, newlySold: 1 });
    expect(await deps.prisma.seckillOrder.findUnique({ where: { id: id! } })).toMatchObject({ status: 'PAID', saleCounted: true });
    expect(await mysqlFigures(goods)).toMatchObject({ stockCount: 4, paid: 1, events: 1 });
  });

  it('records a late payment (order already CLOSED) and a wrong amount, then the right one', async () => {
    const goods = await createGoods(s, PRICE, 5, 'reviews');
    const [late, wrong] = await grabMany(goods, 2);
    await close(goods, late!);
    const latePayment = paymentOf(late!);
    expect(await pay(goods, late!, latePayment)).toBe(Transition.IsClosed);
    expect(await pay(goods, late!, latePayment)).toBe(Transition.PaymentKnown); // a copy of it: nothing changes
    const wrongPayment = paymentOf(wrong!, PRICE - 1);
    expect(await pay(goods, wrong!, wrongPayment)).toBe(Transition.AmountMismatch);
    expect(await orderTransitions(deps, wrong!, goods.id).markNeedsReview('AMOUNT_MISMATCH', 'total_fee differs', wrongPayment)).toBe(Transition.Done);
    await drain(goods);
    expect(await pay(goods, wrong!)).toBe(Transition.Done); // the buyer pays again, correctly
    await drain(goods);

    const rows = await deps.prisma.seckillOrder.findMany({ where: { id: { in: [late!, wrong!] } }, include: { reviews: true, payments: true } });
    const byId = Object.fromEntries(rows.map((r) => [r.id, r]));
    expect(byId[late!]).toMatchObject({ status: 'CLOSED', saleCounted: false });
    expect(byId[late!]!.reviews.map((r) => [r.kind, r.status])).toEqual([['PAID_AFTER_CLOSE', 'OPEN']]);
    expect(byId[late!]!.payments.map((p) => p.transactionId)).toEqual([latePayment.transactionId]);
    expect(byId[wrong!]).toMatchObject({ status: 'PAID', saleCounted: true });
    expect(byId[wrong!]!.reviews.map((r) => [r.kind, r.status])).toEqual([['AMOUNT_MISMATCH', 'OPEN']]);
    expect(byId[wrong!]!.payments).toHaveLength(2);
    expect((await mysqlFigures(goods)).stockCount).toBe(4); // only the correct payment sold a unit
  });

  it('sets unreadable entries aside (hand-edited Redis) and persists the rest of the batch', async () => {
    const goods = await createGoods(s, PRICE, 5, 'malformed');
    const [good, edited] = await grabMany(goods, 2);
    await close(goods, good!);
    await close(goods, edited!);
    const k = deps.keys.forGoods(goods.id);
    await deps.redis.hset(k.order(edited!), 'status', 'WHATEVER');
    const ghost = `${goods.id}${'9'.repeat(19)}`;
    await deps.redis.zadd(k.outbox, 1, 'not-an-order', 2, ghost);
    const before = (await deps.metrics.outboxSetAside.get()).values[0]?.value ?? 0;

    expect(await drain(goods)).toMatchObject({ taken: 4, setAside: 3, persisted: 1, acked: 1 });
    expect(await outboxSize(goods)).toBe(0);
    const rejected = await deps.redis.hgetall(k.outboxRejected);
    expect(Object.keys(rejected).sort()).toEqual([edited!, ghost, 'not-an-order'].sort());
    expect(rejected[edited!]).toMatch(/unknown status/);
    expect(rejected[ghost]).toMatch(/gone/);
    expect((await deps.metrics.outboxSetAside.get()).values[0]?.value).toBe(before + 3);
    expect((await deps.prisma.seckillOrder.findUnique({ where: { id: good! } }))?.status).toBe('CLOSED');
  });

  it('a goods MySQL rejects (row deleted by hand) does not hold up the others; it is retried until it can be written', async () => {
    const ok = await createGoods(s, PRICE, 5, 'fine');
    const broken = await createGoods(s, PRICE, 5, 'deleted');
    const [okOrder] = await grabMany(ok, 1);
    const [brokenOrder] = await grabMany(broken, 1);
    await close(ok, okOrder!);
    await close(broken, brokenOrder!);
    const row = await deps.prisma.seckillGoods.findUniqueOrThrow({ where: { id: BigInt(broken.id) } });
    await deps.prisma.seckillGoods.delete({ where: { id: row.id } });
    await expect(drain(broken)).rejects.toBeInstanceOf(GoodsMissingError);

    const lines: string[] = [];
    const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }));
    const persister = startPersister({ ...deps, logger }, { batchSize: 500, lingerMs: 10, maxBackoffMs: 100 });
    try {
      await eventually(async () => ((await outboxSize(ok)) === 0 ? true : undefined), 10_000);
      expect((await deps.prisma.seckillOrder.findUnique({ where: { id: okOrder! } }))?.status).toBe('CLOSED');
      // retried, with backoff, and reported once
      await eventually(() => (lines.filter((l) => l.includes(`"goodsId":"${broken.id}"`)).length >= 1 ? true : undefined));
      await new Promise((r) => setTimeout(r, 600));
      const failures = await deps.metrics.persisterBatches.get();
      expect(failures.values.find((v) => v.labels.result === 'goods-missing')?.value ?? 0).toBeGreaterThan(2);
      expect(lines.filter((l) => l.includes('batch not written') && l.includes(`"goodsId":"${broken.id}"`))).toHaveLength(1);
      expect(await outboxSize(broken)).toBe(1);

      await deps.prisma.seckillGoods.create({ data: { ...row, id: row.id } }); // a person puts it back
      await eventually(async () => ((await outboxSize(broken)) === 0 ? true : undefined), 10_000);
      expect((await deps.prisma.seckillOrder.findUnique({ where: { id: brokenOrder! } }))?.status).toBe('CLOSED');
      expect(lines.some((l) => l.includes('MySQL writes work again'))).toBe(true);
    } finally {
      await persister.close();
    }
  });
});

describe('review resolutions through the outbox', () => {
  it('a review resolved before MySQL ever saw it is written RESOLVED with its outcome, never OPEN; parallel resolutions apply once', async () => {
    const goods = await createGoods(s, PRICE, 5, 'resolve-early');
    const [id] = await grabMany(goods, 1);
    await orderTransitions(deps, id!, goods.id).markNeedsReview('CLOSE_FAILED', 'closeorder: SYSTEMERROR');
    const k = deps.keys.forGoods(goods.id);
    const userId = (await deps.redis.hget(k.order(id!), 'userId'))!;
    const codes = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        deps.redis.resolveReview(k.order(id!), k.stock, k.held, k.buyer(userId), k.outbox, k.paidPending, i % 2 ? 'RESTOCK' : 'SOLD', deps.keys.restockChannel),
      ),
    );
    expect(codes.filter((c) => c === Transition.Done)).toHaveLength(1);
    expect(codes.filter((c) => c === Transition.ReviewAlreadyResolved)).toHaveLength(9);
    const outcome = codes.indexOf(Transition.Done) % 2 ? 'RESTOCK' : 'SOLD';
    expect(await deps.redis.zcard(k.held)).toBe(0);
    expect(await deps.redis.exists(k.buyer(userId))).toBe(0);
    await drain(goods);
    const items = await deps.prisma.reviewItem.findMany({ where: { orderId: id! } });
    expect(items.map((i) => [i.kind, i.status, i.outcome])).toEqual([['CLOSE_FAILED', 'RESOLVED', outcome]]);
    const row = await deps.prisma.seckillOrder.findUniqueOrThrow({ where: { id: id! } });
    expect(row.status).toBe(outcome === 'SOLD' ? 'PAID' : 'CLOSED');
    expect((await mysqlFigures(goods)).stockCount).toBe(outcome === 'SOLD' ? 4 : 5);
    expect(await stock(s, goods.id)).toEqual({ stockCount: outcome === 'SOLD' ? 4 : 5, available: outcome === 'SOLD' ? 4 : 5 });
  });
});

describe('stock accounting while MySQL is behind', () => {
  it('a lost stock key reloaded while paid orders wait in the outbox never oversells', async () => {
    const goods = await createGoods(s, PRICE, 10, 'reload');
    const orders = await grabMany(goods, 6);
    for (const id of orders.slice(0, 4)) await pay(goods, id); // sold in Redis, not yet in MySQL
    const k = deps.keys.forGoods(goods.id);
    expect(await deps.redis.scard(k.paidPending)).toBe(4);
    await deps.redis.del(k.stock); // Redis lost the counter (eviction, a hand-run DEL)

    // MySQL still says 10; 2 orders hold a unit and 4 are sold: exactly 4 can still be grabbed
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => s.app.inject({ method: 'POST', url: '/seckill/orders', headers: s.buyer(`late-${(buyerSeq += 1)}`), payload: { goodsId: goods.id } })),
    );
    expect(answers.filter((a) => a.statusCode === 201)).toHaveLength(4);
    expect(answers.filter((a) => a.statusCode === 409 && a.json<{ code: string }>().code === 'SOLD_OUT')).toHaveLength(6);

    await drain(goods);
    expect(await stock(s, goods.id)).toEqual({ stockCount: 6, available: 0 });
    expect(await deps.redis.zcard(k.held)).toBe(6); // 2 + 4 unpaid orders hold the 6 units left
  });
});
