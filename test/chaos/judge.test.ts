import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Judge } from '../../chaos/lib/invariants.js';
import { keySpace } from '../../src/infra/redis/keys.js';
import type { Ledger } from '../../src/sandbox/store.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

/**
 * The chaos suite's judge must see what it is there to see: a judge that cannot fail proves
 * nothing. Each case builds a small consistent world (Redis, MySQL, the sandbox ledger) and then
 * breaks one promise.
 */
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('chaos judge', () => {
  let db: TestDatabase;
  let judge: Judge;
  const prefix = `t${randomBytes(4).toString('hex')}`;
  const keys = keySpace(prefix);
  let seq = 0;

  beforeAll(async () => {
    db = await createTestDatabase();
    judge = new Judge(REDIS_URL, db.url, prefix);
  });
  afterAll(async () => {
    const stale = await judge.redis.keys(`${prefix}:*`);
    if (stale.length) await judge.redis.del(...stale);
    judge.close();
    await db.drop();
  });

  /** an order id as the service makes them: the goods id, then 19 digits */
  const orderIdOf = (goodsId: string) => `${goodsId}${String((seq += 1)).padStart(19, '0')}`;
  const emptyLedger = (): Ledger => ({ paid: [], closed: [], notifications: [], refunds: [] });
  const paidEntry = (id: string) => ({ out_trade_no: id, transaction_id: `tx${id}`, total_fee: 100, time_end: '20261202000000', paid_at: new Date().toISOString(), via: 'pay' as const });
  const closedEntry = (id: string) => ({ out_trade_no: id, closed_at: new Date().toISOString() });

  /** Goods with 3 units: one order PAID, one CLOSED (at WeChat too); 2 units left, durable 2. */
  async function world() {
    const goods = await db.prisma.seckillGoods.create({ data: { title: 'judge', price: 100, stockCount: 2, startTime: new Date(), endTime: new Date(Date.now() + 60_000) } });
    const goodsId = goods.id.toString();
    const k = keys.forGoods(goodsId);
    const paid = orderIdOf(goodsId);
    const closed = orderIdOf(goodsId);
    const now = Date.now();
    for (const [id, status] of [[paid, 'PAID'], [closed, 'CLOSED']] as const) {
      await db.prisma.seckillOrder.create({ data: { id, goodsId: goods.id, userId: `u${id}`, money: 100, status, createTime: new Date(now - 5_000), deadline: new Date(now - 1_000), ...(status === 'CLOSED' ? { closedAt: new Date(now - 900), closeReason: 'TIMEOUT' } : {}) } });
      await judge.redis.hset(k.order(id), { orderId: id, goodsId, status });
    }
    await judge.redis.set(k.stock, '2');
    const ledger = emptyLedger();
    ledger.paid.push(paidEntry(paid));
    ledger.closed.push(closedEntry(closed));
    return { goods: [{ goodsId, initialStock: 3 }], k, paid, closed, ledger, known: new Set([paid, closed]) };
  }

  it('a consistent world: no violations, counts and lateness right', async () => {
    const w = await world();
    const verdict = await judge.verdict(w.goods, w.known, w.ledger);
    expect(verdict.violations).toEqual([]);
    expect(verdict.counts).toMatchObject({ orders: 2, PAID: 1, CLOSED: 1, openReviews: 0 });
    expect(verdict.maxCloseLatenessMs).toBe(100);
    expect((await judge.drain(w.goods, 1_000)).left).toBeUndefined();
  });

  it('Redis and MySQL disagreeing on an order', async () => {
    const w = await world();
    await judge.redis.hset(w.k.order(w.closed), 'status', 'PAID');
    expect((await judge.verdict(w.goods, w.known, w.ledger)).violations.join('\n')).toMatch(/1 orders whose Redis and MySQL states differ/);
  });

  it('an acknowledged order in neither Redis nor MySQL (lost)', async () => {
    const w = await world();
    expect((await judge.verdict(w.goods, new Set([...w.known, '99999999']), w.ledger)).violations.join('\n')).toMatch(/1 orders lost/);
  });

  it('a unit oversold: durable stock ≠ available + held, and ≠ initial − paid', async () => {
    const w = await world();
    await judge.redis.set(w.k.stock, '3');
    const v = (await judge.verdict(w.goods, w.known, w.ledger)).violations.join('\n');
    expect(v).toMatch(/stock_count 2 ≠ available 3 \+ held 0/);
    await judge.redis.set(w.k.stock, '2');
    await db.prisma.seckillGoods.update({ where: { id: BigInt(w.goods[0]!.goodsId) }, data: { stockCount: 1 } });
    await judge.redis.set(w.k.stock, '1');
    expect((await judge.verdict(w.goods, w.known, w.ledger)).violations.join('\n')).toMatch(/stock_count 1 ≠ initial 3 − paid 1/);
  });

  it('closed twice at WeChat, a late payment never refunded, a PAID order WeChat never saw paid', async () => {
    const w = await world();
    const ledger = emptyLedger();
    ledger.closed.push(closedEntry(w.closed), closedEntry(w.closed));
    ledger.paid.push(paidEntry(w.closed));
    const v = (await judge.verdict(w.goods, w.known, ledger)).violations.join('\n');
    expect(v).toMatch(/closed more than once at WeChat/);
    expect(v).toMatch(/late payments not refunded/);
    expect(v).toMatch(/PAID without a payment at WeChat/);
  });

  it('an order still held: not drained, not final', async () => {
    const w = await world();
    const id = orderIdOf(w.goods[0]!.goodsId);
    await judge.redis.hset(w.k.order(id), { orderId: id, goodsId: w.goods[0]!.goodsId, status: 'UNPAID' });
    await judge.redis.zadd(w.k.held, Date.now() - 5_000, id);
    expect((await judge.drain(w.goods, 300)).left).toMatch(/held 1/);
    expect(await judge.overdueUnpaidMs(w.goods)).toBeGreaterThanOrEqual(5_000);
    expect((await judge.verdict(w.goods, new Set([...w.known, id]), w.ledger)).violations.join('\n')).toMatch(/orders not final in MySQL/);
  });
});
