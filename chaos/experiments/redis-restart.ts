import { CHAOS_TIMINGS, RESCUE_BOUND_MS } from '../lib/cluster.js';
import { type Experiment, finish, paced, Sale, sleep } from '../lib/experiment.js';

/**
 * Redis goes down with ≥ 2,000 orders pending, twice: `SHUTDOWN` (clean: the AOF is complete)
 * and `kill -9` (a crash; `appendfsync everysec` may lose the last second of writes). Buyers stop
 * 1.5 s before the kill so that what they were told is on disk; workers keep closing and the
 * persister keeps draining right up to the crash, and whatever of that the crash loses must be
 * redone (WeChat's close is idempotent, the persister's writes are too). A third of the orders
 * are paid before the restart.
 */
export const redisRestart: Experiment = {
  name: 'redis-restart',
  title: 'Redis restart (SHUTDOWN and kill -9)',
  async run(ctx) {
    const total = Math.round(2_000 * ctx.scale);
    const sale = new Sale(ctx, 'redis');
    const watch = sale.watch();
    const downMs = 3_000;
    const figures: Record<string, number> = {};
    for (const mode of ['shutdown', 'kill'] as const) {
      const goodsId = await sale.addGoods(total);
      await paced(total, Math.max(100, total / 4), async (i) => {
        const order = await sale.grab(goodsId);
        if (!order || i % 3 !== 0) return;
        if (await sale.requestPayment(order.orderId)) await ctx.sandbox.buyerPays(order.orderId);
      });
      const pending = (await ctx.judge.inFlight(sale.goods)).held;
      figures[`pendingAt${mode === 'kill' ? 'Kill' : 'Shutdown'}`] = pending;
      if (mode === 'kill') await sleep(1_500); // everything acknowledged to a buyer has been fsynced
      ctx.say(`${mode === 'kill' ? 'kill -9' : 'SHUTDOWN'} with ${pending} orders pending`);
      if (mode === 'kill') await ctx.cluster.redis.kill();
      else await ctx.cluster.redis.shutdown();
      await sleep(downMs);
      await ctx.cluster.redis.start();
      await sleep(CHAOS_TIMINGS.orderTimeoutMs);
    }
    return finish(sale, watch, {
      faults: 2,
      // orders due while Redis was down are closed once it is back, within a sweep
      overdueBoundMs: downMs + CHAOS_TIMINGS.workerLockMs + CHAOS_TIMINGS.stalledIntervalMs + RESCUE_BOUND_MS,
      figures,
    });
  },
};
