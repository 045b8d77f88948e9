import { CHAOS_TIMINGS } from '../lib/cluster.js';
import { type Experiment, finish, paced, Sale, sleep } from '../lib/experiment.js';

/**
 * RabbitMQ is stopped and started again while ≥ 1,000 payment notifications arrive. While the
 * broker is down the notify endpoint answers FAIL (it cannot get a publisher confirm) and the
 * sandbox retries each FAIL on WeChat's schedule (scaled); every payment must still end PAID,
 * counted once.
 */
export const rabbitmqRestart: Experiment = {
  name: 'rabbitmq-restart',
  title: 'RabbitMQ restart during notifications',
  async run(ctx) {
    const total = Math.round(1_000 * ctx.scale);
    const sale = new Sale(ctx, 'amqp');
    const goodsId = await sale.addGoods(total);
    const watch = sale.watch();

    const ready: string[] = [];
    await paced(total, Math.max(100, total / 3), async () => {
      const order = await sale.grab(goodsId);
      if (order && (await sale.requestPayment(order.orderId))) ready.push(order.orderId);
    });
    // payments spread over ~8 s; the broker goes down 1 s in
    const restart = (async () => {
      await sleep(1_000);
      ctx.say('stopping RabbitMQ');
      const t0 = Date.now();
      await ctx.cluster.rabbit.stop();
      await sleep(2_000);
      await ctx.cluster.rabbit.start();
      ctx.say(`RabbitMQ back after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      return Date.now() - t0;
    })();
    await paced(ready.length, ready.length / 8, async (i) => {
      await ctx.sandbox.buyerPays(ready[i]!);
    });
    const brokerDownMs = await restart;
    await sleep(CHAOS_TIMINGS.orderTimeoutMs);
    const ledger = await ctx.sandbox.ledger();
    const mine = new Set(ready);
    const failed = ledger.notifications.filter((n) => mine.has(n.out_trade_no) && n.outcome !== 'SUCCESS').length;

    return finish(sale, watch, {
      faults: 1,
      overdueBoundMs: CHAOS_TIMINGS.sweeperIntervalMs + 1_000,
      figures: { paymentsDuringRestart: ready.length, brokerDownMs, notificationsAnsweredFail: failed },
    });
  },
};
