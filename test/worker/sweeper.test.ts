import { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweep } from '../../src/domain/orders/sweep.js';
import { defaultJobOptions, jobId } from '../../src/infra/queues/catalogue.js';
import { eventually } from '../../src/sandbox/testing.js';
import { type TestSystem, createTestSystem } from '../helpers/system.js';
import { closeJobState, dbOrder, grab, newGoods, reserveWithoutJob, stock, timerScheduled, waitForStatus } from './support.js';

/**
 * The sweeper (design §4.7): no unit is held past its deadline plus the sweeper interval, even
 * when the order's timeout job was never added, was lost, or failed for good. Workers run with
 * the sweeper scheduler on (every 500 ms here; orders are "overdue" 5 s after their deadline).
 */
describe('sweeper: overdue orders without a timeout job are closed', () => {
  let s: TestSystem;
  beforeAll(async () => {
    s = await createTestSystem({ sweeper: true });
  });
  afterAll(async () => s?.close());

  const rescheduled = async () => (await s.workerInfra.core.metrics.sweeperRescheduled.get()).values.reduce((n, v) => n + v.value, 0);

  it('an order whose timer request was lost (never became a job) is closed by the sweeper', async () => {
    const goodsId = await newGoods(s, 1);
    const before = await rescheduled();
    const orderId = await reserveWithoutJob(s, 'sw-1', goodsId, 200);
    expect(await closeJobState(s, orderId)).toBe('gone');
    expect(await stock(s, goodsId)).toEqual({ stockCount: 1, available: 0, held: 1 });

    const closed = await waitForStatus(s, 'sw-1', orderId, 'CLOSED', 15_000);
    expect(closed.closeReason).toBe('TIMEOUT');
    expect(await rescheduled()).toBeGreaterThan(before);
    await eventually(async () => ((await dbOrder(s, orderId))?.status === 'CLOSED' ? true : undefined));
    expect(await stock(s, goodsId)).toEqual({ stockCount: 1, available: 1, held: 0 });
    const report = await sweep(s.workerInfra.core);
    expect(report.drift.find((d) => d.goodsId === goodsId)).toMatchObject({ drift: 0 });
  });

  it('an order whose timeout job was removed is closed by the sweeper', async () => {
    const goodsId = await newGoods(s, 1);
    const order = await grab(s, 'sw-2', goodsId);
    const before = await rescheduled();
    expect(await timerScheduled(s, order.orderId)).toBe('delayed'); // the pump made it a job
    expect(await s.infra.core.queues.removeCloseJob(order.orderId)).toBe(true);
    expect(await closeJobState(s, order.orderId)).toBe('gone');
    await waitForStatus(s, 'sw-2', order.orderId, 'CLOSED', 15_000);
    expect(await rescheduled()).toBeGreaterThan(before);
    expect(await stock(s, goodsId)).toEqual({ stockCount: 1, available: 1, held: 0 });
  });

  it('an order whose timeout job failed for good (kept under the same id) is closed by the sweeper', async () => {
    const goodsId = await newGoods(s, 1);
    await s.stopWorkers();
    const orderId = await reserveWithoutJob(s, 'sw-3', goodsId, 200);
    const queue = s.infra.core.queues.byName['order-timeout'];
    await queue.add('close-order', { orderId, goodsId }, { ...defaultJobOptions('close-order', s.config.close), attempts: 1, jobId: jobId.closeOrder(orderId) });
    // take the job by hand and fail it (e.g. MySQL was down on its last attempt)
    const manual = new Worker('order-timeout', null, { connection: s.workerInfra.core.redis, prefix: s.config.queuePrefix });
    try {
      const job = await manual.getNextJob('manual-token');
      if (!job) throw new Error('the close job was not fetched');
      expect(job.id).toBe(jobId.closeOrder(orderId));
      await job.moveToFailed(new Error('simulated: MySQL unavailable'), 'manual-token');
    } finally {
      await manual.close();
    }
    expect(await closeJobState(s, orderId)).toBe('failed');
    await s.startWorkers();

    await waitForStatus(s, 'sw-3', orderId, 'CLOSED', 15_000);
    await eventually(async () => ((await dbOrder(s, orderId))?.status === 'CLOSED' ? true : undefined));
    expect(await stock(s, goodsId)).toEqual({ stockCount: 1, available: 1, held: 0 });
  });

  it('leaves alone an overdue order whose job is still there (a backlog is not a lost job)', async () => {
    const goodsId = await newGoods(s, 1);
    const orderId = await reserveWithoutJob(s, 'sw-4', goodsId, 60_000);
    // due long ago by its index score, but its job is waiting far in the future
    await s.infra.core.queues.scheduleClose({ orderId, goodsId }, 60_000);
    const k = s.infra.core.keys.forGoods(goodsId);
    await s.infra.core.redis.zadd(k.held, Date.now() - 60_000, orderId);
    const report = await sweep(s.workerInfra.core);
    expect(report.rescheduled).toBe(0);
    expect(await closeJobState(s, orderId)).toBe('delayed');
    await s.infra.core.queues.removeCloseJob(orderId);
  });

  it('a drift that heals within a moment (a persister batch between commit and ack) is not reported; a lasting one is', async () => {
    const goodsId = await newGoods(s, 3);
    const warnings: [unknown, string | undefined][] = [];
    const logger = Object.assign(Object.create(s.workerInfra.core.logger) as typeof s.workerInfra.core.logger, {
      warn: (obj: unknown, msg?: string) => void warnings.push([obj, msg]),
    });
    const deps = { ...s.workerInfra.core, logger };
    const goods = { id: BigInt(goodsId) };
    // MySQL counts a sale Redis still holds as paid-pending … and the ack follows 300 ms later
    await s.infra.core.prisma.seckillGoods.update({ where: goods, data: { stockCount: { decrement: 1 } } });
    // (a Prisma query runs only once something awaits it)
    setTimeout(() => void s.infra.core.prisma.seckillGoods.update({ where: goods, data: { stockCount: { increment: 1 } } }).then(() => undefined), 300);
    const healed = await sweep(deps);
    expect(healed.drift.find((d) => d.goodsId === goodsId)).toMatchObject({ drift: 0 });
    expect(warnings.filter(([, msg]) => String(msg).startsWith('stock drift'))).toEqual([]);

    // a drift that stays is reported, with its figures
    await s.infra.core.prisma.seckillGoods.update({ where: goods, data: { stockCount: { decrement: 1 } } });
    const lasting = await sweep(deps);
    expect(lasting.drift.find((d) => d.goodsId === goodsId)).toMatchObject({ durable: 2, available: 3, held: 0, drift: -1 });
    expect(JSON.stringify(warnings)).toContain(`"goodsId":"${goodsId}"`);
    await s.infra.core.prisma.seckillGoods.update({ where: goods, data: { stockCount: { increment: 1 } } });
  });
});
