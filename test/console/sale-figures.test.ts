import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SaleFigures, readSaleFigures } from '../../src/domain/console/sale-figures.js';
import { MAX_TIMER_BUCKETS } from '../../src/domain/console/timer-schedule.js';
import { type TestSystem, createTestSystem } from '../helpers/system.js';
import { type Goods, createGoods, grab, notificationXml, pay, postNotify, waitForStatus } from '../payments/support.js';
import { outboxDrained, reserveWithoutJob } from '../worker/support.js';
import { lateTimeoutCloses } from './support.js';

const MINUTE = 60_000;

/**
 * The console's read model of the sale (src/domain/console) against a sale built through the
 * real paths: timeout closes, a payment, a wrong amount (review), a cancel, and unpaid orders
 * with deadlines spread over the next hours. Expected values come from the scenario and from
 * the held set's own scores, never from the code under test.
 */
describe('sale figures (console read model)', () => {
  let s: TestSystem;
  let goods: Goods;
  let other: Goods;
  let lateClosed: string[];
  const pending: { orderId: string; windowMs: number }[] = [];
  let due: string;

  beforeAll(async () => {
    s = await createTestSystem({ env: { ORDER_TIMEOUT_MS: '600000' } });
    goods = await createGoods(s, 500, 20, 'figures');
    other = await createGoods(s, 700, 3, 'untouched');
    lateClosed = await lateTimeoutCloses(s, goods.id, ['late-1', 'late-2', 'late-3']);

    const paid = await grab(s, 'payer', goods.id);
    expect((await pay(s, 'payer', paid.orderId)).statusCode).toBe(200);
    expect((await postNotify(s.apiUrl, notificationXml({ outTradeNo: paid.orderId, totalFee: paid.money }))).returnCode).toBe('SUCCESS');
    await waitForStatus(s, 'payer', paid.orderId, 'PAID');

    const wrong = await grab(s, 'wrong-amount', goods.id);
    expect((await pay(s, 'wrong-amount', wrong.orderId)).statusCode).toBe(200);
    expect((await postNotify(s.apiUrl, notificationXml({ outTradeNo: wrong.orderId, totalFee: wrong.money + 1 }))).returnCode).toBe('SUCCESS');
    await waitForStatus(s, 'wrong-amount', wrong.orderId, 'NEEDS_REVIEW');

    const cancelled = await grab(s, 'canceller', goods.id);
    expect((await s.app.inject({ method: 'POST', url: `/seckill/orders/${cancelled.orderId}/cancel`, headers: s.buyer('canceller') })).statusCode).toBe(202);
    await waitForStatus(s, 'canceller', cancelled.orderId, 'CLOSED');

    // unpaid orders whose timers no worker will run (their timer requests are lost and the sweeper is off)
    due = await reserveWithoutJob(s, 'due', goods.id, 1);
    for (const [i, windowMs] of [30_000, 90_000, 95_000, 200_000, 3 * 3_600_000].entries()) {
      pending.push({ orderId: await reserveWithoutJob(s, `pending-${i}`, goods.id, windowMs), windowMs });
    }
    await outboxDrained(s, goods.id);
  });
  afterAll(async () => s?.close());

  const figuresOf = async (goodsId: string, now = new Date()): Promise<SaleFigures> => {
    const all = await readSaleFigures(s.infra.core, now);
    const found = all.find((g) => g.goodsId === goodsId);
    if (!found) throw new Error(`goods ${goodsId} not among ${all.map((g) => g.goodsId).join(', ')}`);
    return found;
  };

  it('counts units available, held, in review, paid and closed, and adds up with the durable stock', async () => {
    const f = await figuresOf(goods.id);
    expect(f).toMatchObject({ title: 'figures', phase: 'on sale', held: 6, heldInReview: 1, paid: 1, closed: 4, inReview: 1, stockCount: 19, awaitingMysql: 0, timerRequestsQueued: 0 });
    expect(f.available).toBe(20 - 1 /* paid */ - 6 - 1);
    expect(f.available! + f.held + f.heldInReview).toBe(f.stockCount); // design §3
    expect(await figuresOf(other.id)).toMatchObject({ available: 3, held: 0, heldInReview: 0, paid: 0, closed: 0, stockCount: 3, timers: { due: 0, byMinute: [], next: [] } });
  });

  it('groups pending close timers by due minute, the due ones apart, and lists the next ones', async () => {
    const now = Date.now();
    const { timers } = await figuresOf(goods.id, new Date(now));
    expect(timers.due).toBe(1);
    // the deadlines as Redis holds them, grouped here by minute
    const deadlines = await Promise.all(pending.map(async (p) => Number(await s.infra.core.redis.zscore(s.infra.core.keys.forGoods(goods.id).held, p.orderId))));
    const firstMinute = Math.floor(now / MINUTE) * MINUTE;
    const bucketOf = (deadline: number) => Math.min(MAX_TIMER_BUCKETS - 1, Math.floor(deadline / MINUTE) - firstMinute / MINUTE);
    const expected = Array.from({ length: MAX_TIMER_BUCKETS }, () => 0);
    for (const deadline of deadlines) expected[bucketOf(deadline)]! += 1;
    // three hours ahead: the chart stops at an hour, its last bar holding every later timer
    expect(timers.byMinute).toHaveLength(MAX_TIMER_BUCKETS);
    expect(timers.byMinute.map((b) => b.count)).toEqual(expected);
    expect(timers.byMinute.map((b) => Date.parse(b.minute))).toEqual(expected.map((_, i) => firstMinute + i * MINUTE));
    expect(timers.next.map((t) => t.orderId)).toEqual([due, ...pending.slice(0, 4).map((p) => p.orderId)]);
    expect(timers.next.slice(1).map((t) => Date.parse(t.deadline))).toEqual(deadlines.slice(0, 4));
  });

  it('reports the lateness of the latest timeout closes (not of cancels)', async () => {
    const { lateness } = await figuresOf(goods.id);
    expect(lateness.samples.map((l) => l.orderId).sort()).toEqual([...lateClosed].sort());
    const rows = await s.infra.core.prisma.seckillOrder.findMany({ where: { id: { in: lateClosed } } });
    for (const sample of lateness.samples) {
      const row = rows.find((r) => r.id === sample.orderId)!;
      expect(sample.seconds).toBeCloseTo((row.closedAt!.getTime() - row.deadline.getTime()) / 1000, 3);
      expect(sample.seconds).toBeGreaterThanOrEqual(0.1); // closed at least 100 ms after its deadline
    }
    const seconds = lateness.samples.map((l) => l.seconds);
    expect(lateness.max).toBe(Math.max(...seconds));
    expect(lateness.p50).toBe([...seconds].sort((a, b) => a - b)[1]);
    expect(lateness.p95).toBe(lateness.max);
  });

  it('reads and never writes: a goods Redis lost is shown with its durable figures, not loaded again', async () => {
    const k = s.infra.core.keys.forGoods(other.id);
    await s.infra.core.redis.del(k.stock, k.goods);
    const f = await figuresOf(other.id);
    expect(f.available).toBeNull();
    expect(f.stockCount).toBe(3);
    expect(await s.infra.core.redis.exists(k.stock)).toBe(0);
  });
});
