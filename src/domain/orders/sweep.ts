import type { CoreDeps } from '../deps.js';
import { reloadLiveGoods } from '../goods/goods-service.js';
import { parseLiveOrder } from './order-view.js';

export interface SweepReport {
  goods: number;
  rescheduled: number;
  drift: { goodsId: string; durable: number; available: number; held: number; paidPending: number; drift: number }[];
}

/**
 * A persister batch commits MySQL (stock_count − n) a moment before it takes its orders out of
 * paid-pending in Redis; a drift seen in that moment is gone a moment later. A drifting goods is
 * measured again after this long and reported only if the drift is still there.
 */
const DRIFT_RECHECK_MS = 1_000;

/** Orders due this long ago and still without a job are rescued (a running job is not "missing"). */
export const OVERDUE_GRACE_MS = 5_000;
const BATCH = 500;

/**
 * The periodic sweeper (design §4.7):
 * 1. puts any goods Redis has lost back on sale (loadGoods never double-counts held units);
 * 2. re-schedules overdue UNPAID/CLOSING orders whose timeout job is missing (a crash between
 *    timer-pump pop and job add, a lost job);
 * 3. checks, per goods, durable stock = live available + units held + units paid in Redis that
 *    MySQL has not counted yet (the outbox, design §6), and reports any drift that lasts.
 * Steps 1 and 3 need MySQL, step 2 only Redis: with MySQL down (an outage the outbox rides
 * out) the rescue of overdue orders still runs, and the sweep reports what it skipped.
 */
/** Prisma's messages start with the call site; the cause is the last line. */
const lastLine = (err: unknown) => (err as Error).message.split('\n').filter(Boolean).at(-1) ?? 'unknown error';

export async function sweep(deps: CoreDeps): Promise<SweepReport> {
  let mysqlDown: string | undefined;
  try {
    await reloadLiveGoods(deps);
  } catch (err) {
    mysqlDown = lastLine(err);
  }
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
    if (mysqlDown) continue;
    try {
      report.drift.push(await stockDrift(deps, goodsId));
    } catch (err) {
      mysqlDown = lastLine(err);
    }
  }
  if (mysqlDown) {
    deps.logger.warn({ err: mysqlDown }, 'sweeper: MySQL unavailable; overdue orders were still rescued, goods reload and stock check skipped this time');
    return report;
  }
  let drifting = report.drift.filter((d) => d.drift !== 0);
  if (drifting.length) {
    await new Promise((resolve) => setTimeout(resolve, DRIFT_RECHECK_MS));
    const again = await Promise.all(drifting.map((d) => stockDrift(deps, d.goodsId)));
    drifting = again.filter((d, i) => d.drift !== 0 && d.drift === drifting[i]!.drift);
    report.drift = report.drift.map((d) => again.find((a) => a.goodsId === d.goodsId) ?? d);
  }
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
