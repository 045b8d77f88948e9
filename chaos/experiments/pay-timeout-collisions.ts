import { CHAOS_TIMINGS, RESCUE_BOUND_MS } from '../lib/cluster.js';
import { type Experiment, finish, paced, Sale, sleep } from '../lib/experiment.js';

/**
 * ≥ 1,000 orders, every one with a WeChat order; about half are paid through the sandbox right
 * around their deadline (±400 ms), each notification sent three times at once plus two
 * duplicates, and a tenth pay while their closeorder is in flight (the sandbox applies the
 * payment first and answers ORDERPAID). Every order must end exactly one of PAID or CLOSED, each
 * unit sold once or put back once.
 */
export const payTimeoutCollisions: Experiment = {
  name: 'pay-timeout-collisions',
  title: 'Pay/timeout collisions',
  async run(ctx) {
    const total = Math.round(1_000 * ctx.scale);
    const sale = new Sale(ctx, 'race');
    const goodsId = await sale.addGoods(total);
    const watch = sale.watch();

    const payers: { orderId: string; deadline: number }[] = [];
    const payDuringClose: string[] = [];
    await paced(total, Math.max(50, total / 10), async (i) => {
      const order = await sale.grab(goodsId);
      if (!order || !(await sale.requestPayment(order.orderId))) return;
      if (i % 2 === 0) payers.push({ orderId: order.orderId, deadline: sale.orders.get(order.orderId)!.deadline });
      else if (i % 10 === 1) payDuringClose.push(order.orderId);
    });
    await ctx.sandbox.faults({ payDuringClose });

    let refused = 0;
    let paid = 0;
    await Promise.all(
      payers.map(async ({ orderId, deadline }) => {
        await sleep(Math.max(0, deadline + (Math.random() * 800 - 400) - Date.now()));
        const reply = await ctx.sandbox.buyerPays(orderId, { concurrent: 3, duplicates: 2 });
        if (reply.status === 200) paid += 1;
        else refused += 1; // closed at WeChat first: the buyer's payment is refused, as it must be
      }),
    );
    await sleep(CHAOS_TIMINGS.orderTimeoutMs);
    await ctx.sandbox.faults({ payDuringClose: false });

    return finish(sale, watch, {
      faults: payers.length + payDuringClose.length,
      overdueBoundMs: RESCUE_BOUND_MS,
      figures: { paidAtDeadline: paid, refusedAsClosed: refused, paidDuringClose: payDuringClose.length },
    });
  },
};
