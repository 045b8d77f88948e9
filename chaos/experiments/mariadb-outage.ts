import { closeRetryBudgetMs, RESCUE_BOUND_MS } from '../lib/cluster.js';
import { type Experiment, finish, paced, Sale, sleep } from '../lib/experiment.js';

/**
 * MariaDB is killed for longer than the close path's whole retry budget while orders fall due
 * and are paid. The close and payment paths talk only to Redis and WeChat, so nothing may go to
 * review; once MariaDB is back the outbox drains and every order is final in MySQL.
 */
export const mariadbOutage: Experiment = {
  name: 'mariadb-outage',
  title: 'MariaDB outage beyond the close retry budget',
  async run(ctx) {
    const total = Math.round(1_000 * ctx.scale);
    const sale = new Sale(ctx, 'mysql');
    const goodsId = await sale.addGoods(total);
    const watch = sale.watch();
    const outageMs = closeRetryBudgetMs + 5_000;

    ctx.say(`killing MariaDB for ${(outageMs / 1000).toFixed(0)} s (close retry budget ${(closeRetryBudgetMs / 1000).toFixed(0)} s)`);
    const t0 = Date.now();
    await ctx.cluster.mariadb.stop();
    let paid = 0;
    await paced(total, total / 15, async (i) => {
      const order = await sale.grab(goodsId);
      if (!order || i % 3 !== 0) return;
      if ((await sale.requestPayment(order.orderId)) && (await ctx.sandbox.buyerPays(order.orderId)).status === 200) paid += 1;
    });
    await sleep(Math.max(0, outageMs - (Date.now() - t0)));
    const behind = await ctx.judge.inFlight(sale.goods);
    await ctx.cluster.mariadb.resume();
    ctx.say(`MariaDB back; outbox ${behind.outbox} orders behind`);

    return finish(sale, watch, {
      faults: 1,
      overdueBoundMs: RESCUE_BOUND_MS,
      figures: { outageS: Math.round(outageMs / 1000), paidDuringOutage: paid, outboxAtReturn: behind.outbox },
    });
  },
};
