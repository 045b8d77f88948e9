import { CHAOS_TIMINGS, RESCUE_BOUND_MS } from '../lib/cluster.js';
import { type Experiment, finish, paced, Sale, sleep } from '../lib/experiment.js';
import { percentile } from '../lib/stats.js';

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

    // The victim is the worker up longest, and only while another worker is up too: a killed
    // worker's jobs are recovered by a live one (lock lapses, stalled check), which is what this
    // tests; killing the last live worker too would only test a full outage, whose length is the
    // boot time. A tick with a single live worker waits (counted as `ticksWaited`).
    const oldestReady = () => {
      const ready = ctx.cluster.readyAt.map((at, i) => ({ at, i })).filter((w): w is { at: number; i: number } => w.at !== undefined);
      if (ready.length < 2) return undefined;
      return ready.sort((a, b) => a.at - b.at)[0]!.i;
    };
    let ticksWaited = 0;
    let kills = 0;
    let storming = true;
    const storm = (async () => {
      while (storming) {
        // the worker that has been up longest (one still booting has nothing to lose yet)
        const victim = oldestReady();
        if (victim === undefined) {
          ticksWaited += 1;
          await sleep(1_000);
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
      // (one worker is always up to notice), plus the allowance for a saturated machine
      // A job can be caught by more than one kill: picked up again by the other worker, which is
      // the next victim. BullMQ retries a stalled job up to maxStalledCount (3) times before it
      // fails and the sweeper takes over; each stall costs a lock plus a stalled check.
      overdueBoundMs: 3 * (CHAOS_TIMINGS.workerLockMs + CHAOS_TIMINGS.stalledIntervalMs) + RESCUE_BOUND_MS,
      figures: { kills, ticksWaited, workerBootP50: `${percentile(ctx.cluster.bootMs, 0.5)} ms` },
    });
  },
};
