import type { CoreDeps } from '../deps.js';
import { reloadLiveGoods } from '../goods/goods-service.js';
import { parseLiveOrder } from './order-view.js';

export interface SweepReport {
  goods: number;
  rescheduled: number;
  drift: { goodsId: string; durable: number; available: number; held: number; paidPending: number; drift: number }[];
}

/** Orders due this long ago and still without a job are rescued (a running job is not "missing"). */
const OVERDUE_GRACE_MS = 5_000;
const BATCH = 500;

/**
 * The periodic sweeper (design §4.7):
 * 1. puts any goods Redis has lost back on sale (loadGoods never double-counts held units);
 * 2. re-schedules overdue UNPAID/CLOSING orders whose timeout job is missing (a crash between
 *    timer-pump pop and job add, a lost job);
 * 3. checks, per goods, durable stock = live available + units held + units paid in Redis that
 *    MySQL has not counted yet (the outbox, design §6), and reports any drift.
 */
export async function sweep(deps: CoreDeps): Promise<SweepReport> {
  await reloadLiveGoods(deps);
  const goodsIds = await deps.redis.smembers(deps.keys.liveGoods);
  const report: SweepReport = { goods: goodsIds.length, rescheduled: 0, drift: [] };
  const cutoff = Date.now() - OVERDUE_GRACE_MS;

  for (const goodsId of goodsIds) {
    const k = deps.keys.forGoods(goodsId);
    const overdue = await deps.redis.zrangebyscore(k.held, '-inf', cutoff, 'LIMIT', 0, BATCH);
    for (const orderId of overdue) {
      const order = parseLiveOrder(await deps.redis.hgetall(k.order(orderId)));
      if (!order || (order.status !== 'UNPAID' && order.status !== 'CLOSING')) continue;
      if (await deps.queues.hasCloseJob(orderId)) continue;
      // closeNow, not scheduleClose: a failed job kept under the same id would make the add a no-op
      await deps.queues.closeNow({ orderId, goodsId });
      report.rescheduled += 1;
      deps.metrics.sweeperRescheduled.inc();
      deps.logger.warn({ orderId, goodsId, overdueMs: Date.now() - order.deadline }, 'sweeper: overdue order had no timeout job; scheduled now');
    }
    report.drift.push(await stockDrift(deps, goodsId));
  }
  const drifting = report.drift.filter((d) => d.drift !== 0);
  if (drifting.length) {
    deps.metrics.stockDriftDetected.inc();
    deps.logger.warn({ drifting }, 'stock drift: durable stock differs from available + held');
  }
  return report;
}

async function stockDrift(deps: CoreDeps, goodsId: string) {
  const k = deps.keys.forGoods(goodsId);
  // Redis first, in one round trip, then MySQL: a persister batch committing in between shows as
  // a transient -n drift (counted twice), never as a hidden shortfall.
  const replies = (await deps.redis.multi().get(k.stock).zcard(k.held).scard(k.paidPending).exec()) ?? [];
  const [available, held, paidPending] = replies.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
  const row = await deps.prisma.seckillGoods.findUnique({ where: { id: BigInt(goodsId) }, select: { stockCount: true } });
  const durable = row?.stockCount ?? 0;
  const live = Number(available ?? 0);
  const drift = durable - (live + Number(held) + Number(paidPending));
  deps.metrics.stockDrift.set({ goods_id: goodsId }, drift);
  return { goodsId, durable, available: live, held: Number(held), paidPending: Number(paidPending), drift };
}
