import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweep } from '../../src/domain/orders/sweep.js';
import { type TestSystem, createTestSystem } from '../helpers/system.js';
import { closeJobState, newGoods, reserveWithoutJob } from './support.js';

/**
 * The sweeper walks a goods' overdue orders a batch per sweep from where the last sweep stopped
 * (design §4.7, §9): a backlog of overdue orders whose jobs are simply waiting for a worker must
 * not hide, sweep after sweep, the one order that has no job at all. No workers run here, so
 * the backlog's jobs stay where they are.
 */
describe('sweeper: fair walk over overdue orders', () => {
  let s: TestSystem;
  beforeAll(async () => {
    s = await createTestSystem({ workers: false });
  });
  afterAll(async () => s?.close());

  /** `n` orders of a new goods, all a minute overdue, in this order (a ms apart), none with a job yet */
  async function overdueOrders(buyerPrefix: string, n: number): Promise<{ goodsId: string; orders: string[] }> {
    const goodsId = await newGoods(s, 30);
    const held = s.infra.core.keys.forGoods(goodsId).held;
    const longAgo = Date.now() - 60_000;
    const orders: string[] = [];
    for (let i = 0; i < n; i += 1) {
      const orderId = await reserveWithoutJob(s, `${buyerPrefix}-${i}`, goodsId, 100);
      await s.infra.core.redis.zadd(held, longAgo + i, orderId);
      orders.push(orderId);
    }
    return { goodsId, orders };
  }

  it('finds the one overdue order without a job behind 25 that have one, within ceil(26 / batch) sweeps', async () => {
    const { goodsId, orders } = await overdueOrders('fair', 26); // the one without a job (25) comes last
    const withJobs = orders.slice(0, 25);
    const hidden = orders[25]!;
    // jobs that wait (a worker backlog): due in an hour, so nothing runs them here
    await s.infra.core.queues.scheduleCloses(withJobs.map((orderId) => ({ job: { orderId, goodsId }, deadline: Date.now() + 3_600_000 })));

    const rescued: number[] = [];
    for (let i = 0; i < 3; i += 1) rescued.push((await sweep(s.workerInfra.core, { batch: 10 })).rescheduled);
    // orders 0–9, 10–19, then 20–25: the hidden order is reached on the third sweep, not before
    expect(rescued).toEqual([0, 0, 1]);
    expect(await closeJobState(s, hidden)).not.toBe('gone');
    // the walk starts over: the next rounds find nothing more to rescue
    for (let i = 0; i < 3; i += 1) expect((await sweep(s.workerInfra.core, { batch: 10 })).rescheduled).toBe(0);
  });

  it('wraps round within a sweep when the walk runs off the end', async () => {
    const { goodsId, orders } = await overdueOrders('wrap', 12);
    const k = s.infra.core.keys.forGoods(goodsId);
    const redis = s.infra.core.redis;
    // every order but the first has its job; the walk has reached offset 10 already
    await s.infra.core.queues.scheduleCloses(orders.slice(1).map((orderId) => ({ job: { orderId, goodsId }, deadline: Date.now() + 3_600_000 })));
    await redis.set(k.sweepCursor, 10);
    // orders 10–11, then from the start again: 0–7 (order 0 is rescued in this same sweep)
    expect((await sweep(s.workerInfra.core, { batch: 10 })).rescheduled).toBe(1);
    expect(await closeJobState(s, orders[0]!)).not.toBe('gone');
    expect(await redis.get(k.sweepCursor)).toBe('8');
  });
});
