import { CHAOS_TIMINGS, RESCUE_BOUND_MS } from '../lib/cluster.js';
import { type Experiment, finish, paced, Sale, sleep } from '../lib/experiment.js';

/**
 * RabbitMQ is stopped and started again while ≥ 1,000 payment notifications arrive: 60 % of the
 * buyers pay while it is down, the rest just after it is back. While the broker is down the
 * notify endpoint answers FAIL (it cannot get a publisher confirm) and the sandbox retries each
 * FAIL on WeChat's schedule (scaled); orders that fall due meanwhile are closed at WeChat, which
 * answers ORDERPAID, and settled from orderquery. Every payment must end PAID, counted once.
 */
export const rabbitmqRestart: Experiment = {
  name: 'rabbitmq-restart',
  title: 'RabbitMQ restart during notifications',
  async run(ctx) {
    const total = Math.round(1_000 * ctx.scale);
    const sale = new Sale(ctx, 'amqp');
    const goodsId = await sale.addGoods(total);
    const watch = sale.watch();

    // A buyer grabs, asks for the QR code and pays, in one go (the payment window is short):
    // 60 % of them while the broker is down — each notification answered FAIL, then retried by
    // WeChat on its schedule — and the rest just after it is back.
    const paid: string[] = [];
    const buy = async () => {
      const order = await sale.grab(goodsId);
      if (!order || !(await sale.requestPayment(order.orderId))) return;
      if ((await ctx.sandbox.buyerPays(order.orderId)).status === 200) paid.push(order.orderId);
    };
    const whileDown = Math.round(total * 0.6);
    ctx.say('stopping RabbitMQ');
    const t0 = Date.now();
    await ctx.cluster.rabbit.stop();
    await paced(whileDown, Math.max(50, whileDown / 3), buy);
    const paidWhileDown = paid.length;
    await ctx.cluster.rabbit.start();
    const brokerDownMs = Date.now() - t0;
    ctx.say(`RabbitMQ back after ${(brokerDownMs / 1000).toFixed(1)} s`);
    await paced(total - whileDown, Math.max(50, (total - whileDown) / 2), buy);
    await sleep(CHAOS_TIMINGS.orderTimeoutMs);
    const ledger = await ctx.sandbox.ledger();
    const mine = new Set(paid);
    const failed = ledger.notifications.filter((n) => mine.has(n.out_trade_no) && n.outcome !== 'SUCCESS').length;

    return finish(sale, watch, {
      faults: 1,
      overdueBoundMs: RESCUE_BOUND_MS,
      figures: { paidWhileDown, paidAfter: paid.length - paidWhileDown, brokerDownMs, notificationsAnsweredFail: failed },
    });
  },
};
