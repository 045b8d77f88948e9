import { CHAOS_TIMINGS } from '../lib/cluster.js';
import { type Experiment, finish, paced, percentile, Sale, sleep } from '../lib/experiment.js';

/**
 * ≥ 5,000 orders falling due over ~30 s while a worker is SIGKILLed and started again every
 * second (its jobs stay locked until the lock lapses; the stalled check hands them to a live
 * worker). Half the orders have a WeChat order, so their closes really call closeorder.
 */
export const workerKillStorm: Experiment = {
  name: 'worker-kill-storm',
  title: 'Worker SIGKILL storm',
  async run(ctx) {
    const total = Math.round(5_000 * ctx.scale);
    const spreadMs = Math.max(5_000, 30_000 * ctx.scale);
    const sale = new Sale(ctx, 'kill');
    const goodsId = await sale.addGoods(total);
    const watch = sale.watch();

    const oldestReady = () => {
      let best: number | undefined;
      ctx.cluster.readyAt.forEach((at, i) => {
        if (at !== undefined && (best === undefined || at < ctx.cluster.readyAt[best]!)) best = i;
      });
      return best;
    };
    let kills = 0;
    let storming = true;
    const storm = (async () => {
      while (storming) {
        // the worker that has been up longest (one still booting has nothing to lose yet)
        const victim = oldestReady();
        if (victim === undefined) {
          await sleep(50);
          continue;
        }
        await ctx.cluster.killWorker(victim);
        kills += 1;
        // started again at once; it takes a moment to boot, so at times no worker is up at all
        void ctx.cluster.startWorker(victim).catch(() => undefined); // killed again while booting: fine
        await sleep(1_000);
      }
    })();

    await paced(total, total / (spreadMs / 1000), async (i) => {
      const order = await sale.grab(goodsId);
      if (order && i % 2 === 0) await sale.requestPayment(order.orderId);
    });
    ctx.say(`${sale.orders.size} orders placed; storm goes on until the last falls due`);
    await sleep(CHAOS_TIMINGS.orderTimeoutMs + 2_000);
    storming = false;
    await storm;
    // every worker up again (a start begun by the storm may still be booting)
    for (let i = 0; i < ctx.cluster.workerCount; i += 1) if (!ctx.cluster.workers[i]) await ctx.cluster.startWorker(i);

    return finish(sale, watch, {
      faults: kills,
      // a killed worker's job waits for its lock to lapse and the stalled check to notice
      // and with a kill every second a worker lives about as long as it takes to boot
      overdueBoundMs: CHAOS_TIMINGS.sweeperIntervalMs + CHAOS_TIMINGS.workerLockMs + CHAOS_TIMINGS.stalledIntervalMs + 2 * percentile(ctx.cluster.bootMs, 0.99),
      figures: { kills, workerBootP50: `${percentile(ctx.cluster.bootMs, 0.5)} ms` },
    });
  },
};
