import type { FaultsPatch } from '../../src/sandbox/faults.js';
import { CHAOS_TIMINGS, closeRetryBudgetMs, RESCUE_BOUND_MS } from '../lib/cluster.js';
import { type Experiment, finish, paced, Sale, sleep } from '../lib/experiment.js';

/**
 * WeChat on a bad day, while orders are placed, paid, cancelled and fall due: a SYSTEMERROR storm
 * (every call fails, nothing applied), slow answers (past the client's 2 s budget, applied at
 * WeChat), dropped answers (applied, never answered) and answers with bad signatures, 3 s each
 * with a short calm between, over the time the orders fall due. The whole bad day (≈ 18 s) is
 * shorter than the close path's retry budget (32 s), so every close must get through in the end
 * and no order may end in review. WeChat's 5-minute rule is on throughout: a tenth of the buyers
 * cancel right after asking for the QR code, and those closes must wait, not fail.
 */
const PHASES: readonly { name: string; faults: FaultsPatch }[] = [
  { name: 'SYSTEMERROR storm', faults: { systemErrorRate: 1 } },
  { name: 'slow answers', faults: { delayMs: { closeorder: 2_500, orderquery: 2_500, unifiedorder: 2_500 } } },
  { name: 'dropped answers', faults: { dropRate: 0.5 } },
  { name: 'bad signatures', faults: { tamper: 'bad-signature' } },
];
const CALM: FaultsPatch = { systemErrorRate: 0, delayMs: 0, dropRate: 0, tamper: 'none' };

export const wechatFaults: Experiment = {
  name: 'wechat-faults',
  title: 'WeChat faults and the 5-minute rule',
  async run(ctx) {
    const total = Math.round(1_000 * ctx.scale);
    const sale = new Sale(ctx, 'wx');
    const goodsId = await sale.addGoods(total);
    const watch = sale.watch();
    const placingMs = 20_000;
    const phaseMs = 3_000;
    const calmMs = 1_500;

    let phases = 0;
    const weather = (async () => {
      await sleep(CHAOS_TIMINGS.orderTimeoutMs); // the first orders fall due
      for (const phase of PHASES) {
        ctx.say(`WeChat: ${phase.name}`);
        await ctx.sandbox.faults({ ...CALM, ...phase.faults });
        phases += 1;
        await sleep(phaseMs);
        await ctx.sandbox.faults(CALM);
        await sleep(calmMs);
      }
    })();

    let cancelled = 0;
    let payRefused = 0;
    await paced(total, total / (placingMs / 1000), async (i) => {
      const order = await sale.grab(goodsId);
      if (!order) return;
      if (!(await sale.requestPayment(order.orderId, 20))) {
        payRefused += 1;
        return;
      }
      if (i % 10 === 0) {
        // within WeChat's 5-minute rule (3 s here): the close must wait for it
        if ((await ctx.api.cancel(order.buyer, order.orderId)).status === 202) cancelled += 1;
      } else if (i % 10 < 4) {
        await ctx.sandbox.buyerPays(order.orderId);
      }
    });
    await weather;
    await sleep(CHAOS_TIMINGS.orderTimeoutMs);

    return finish(sale, watch, {
      faults: phases,
      overdueBoundMs: RESCUE_BOUND_MS,
      figures: { cancelledWithin5MinRule: cancelled, payRequestsFailed: payRefused, badDayS: Math.round((PHASES.length * (phaseMs + calmMs)) / 1000), retryBudgetS: Math.round(closeRetryBudgetMs / 1000) },
    });
  },
};
