import type { CoreDeps } from '../deps.js';
import { reloadLiveGoods } from '../goods/goods-service.js';
import { retireIfOver } from '../goods/retire.js';
import { parseLiveOrder } from './order-view.js';

export interface SweepReport {
  goods: number;
  rescheduled: number;
  /** goods whose sale was over and settled, taken out of the live sale (retire.ts) */
  retired: number;
  drift: { goodsId: string; durable: number; available: number; held: number; paidPending: number; drift: number }[];
}

export interface SweepOptions {
  /** overdue orders looked at per goods and sweep (default 500) */
  batch?: number;
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
/** job lookups in flight at once (each is two commands) */
const LOOKUPS_IN_PARALLEL = 50;

/**
 * The periodic sweeper (design §4.7):
 * 1. puts any goods Redis has lost back on sale (loadGoods never double-counts held units);
 * 2. re-schedules overdue UNPAID/CLOSING orders whose timeout job is missing (a crash between
 *    timer-pump pop and job add, a lost job), walking each goods' overdue orders a batch per
 *    sweep from where the last sweep stopped, so a backlog of orders whose jobs simply wait for
 *    a worker cannot hide one that has none;
 * 3. retires goods whose sale is over and settled (retire.ts): they leave the live sale;
 * 4. checks, per goods, durable stock = live available + units held + units paid in Redis that
 *    MySQL has not counted yet (the outbox, design §6), and reports any drift that lasts.
 * Steps 1, 3 and 4 need MySQL (step 3 only so that it runs after step 1), step 2 only Redis:
 * with MySQL down (an outage the outbox rides out) the rescue of overdue orders still runs, and
 * the sweep reports what it skipped.
 */
/** Prisma's messages start with the call site; the cause is the last line. */
const lastLine = (err: unknown) => (err as Error).message.split('\n').filter(Boolean).at(-1) ?? 'unknown error';

export async function sweep(deps: CoreDeps, opts: SweepOptions = {}): Promise<SweepReport> {
  let mysqlDown: string | undefined;
  try {
    await reloadLiveGoods(deps);
  } catch (err) {
    mysqlDown = lastLine(err);
  }
  const goodsIds = await deps.redis.smembers(deps.keys.liveGoods);
  const report: SweepReport = { goods: goodsIds.length, rescheduled: 0, retired: 0, drift: [] };

  for (const goodsId of goodsIds) {
    report.rescheduled += await rescueOverdue(deps, goodsId, opts.batch ?? BATCH);
    if (mysqlDown) continue;
    if ((await retireIfOver(deps, goodsId)) === 'retired') {
      report.retired += 1;
      deps.metrics.stockDrift.remove({ goods_id: goodsId });
      continue;
    }
    try {
      const drift = await stockDrift(deps, goodsId);
      if (drift) report.drift.push(drift);
    } catch (err) {
      mysqlDown = lastLine(err);
    }
  }
  if (mysqlDown) {
    deps.logger.warn({ err: mysqlDown }, 'sweeper: MySQL unavailable; overdue orders were still rescued, goods reload, retirement and stock check skipped this time');
    return report;
  }
  let drifting = report.drift.filter((d) => d.drift !== 0);
  if (drifting.length) {
    await new Promise((resolve) => setTimeout(resolve, DRIFT_RECHECK_MS));
    const again = await Promise.all(drifting.map((d) => stockDrift(deps, d.goodsId)));
    drifting = drifting.flatMap((d, i) => {
      const now = again[i];
      return now && now.drift !== 0 && now.drift === d.drift ? [now] : [];
    });
    report.drift = report.drift.map((d) => again.find((a) => a?.goodsId === d.goodsId) ?? d);
  }
  if (drifting.length) {
    deps.metrics.stockDriftDetected.inc();
    deps.logger.warn({ drifting }, 'stock drift: durable stock differs from available + held');
  }
  return report;
}

/**
 * One batch of a goods' overdue orders, from the offset where the last sweep stopped (kept in
 * Redis, so it carries over whichever worker sweeps next); back to the start once the walk runs
 * off the end. Orders closing meanwhile shift the ones behind them forward, so one may be passed
 * over on a round; the next round sees it. Every overdue order is looked at within
 * ceil(overdue / batch) + 1 sweeps, however many of them have jobs waiting.
 */
async function rescueOverdue(deps: CoreDeps, goodsId: string, batch: number): Promise<number> {
  const k = deps.keys.forGoods(goodsId);
  const cutoff = Date.now() - OVERDUE_GRACE_MS;
  const offset = Number((await deps.redis.get(k.sweepCursor)) ?? 0) || 0;
  let overdue = await deps.redis.zrangebyscore(k.held, '-inf', cutoff, 'LIMIT', offset, batch);
  let next = offset + overdue.length;
  if (overdue.length < batch && offset > 0) {
    // ran off the end: wrap round within this sweep for the rest of the batch
    const head = await deps.redis.zrangebyscore(k.held, '-inf', cutoff, 'LIMIT', 0, Math.min(batch - overdue.length, offset));
    overdue = [...new Set([...overdue, ...head])];
    next = head.length;
  } else if (overdue.length < batch) {
    next = 0;
  }
  if (next === 0) await deps.redis.del(k.sweepCursor);
  else await deps.redis.set(k.sweepCursor, next);

  let rescheduled = 0;
  for (let i = 0; i < overdue.length; i += LOOKUPS_IN_PARALLEL) {
    const found = await Promise.all(overdue.slice(i, i + LOOKUPS_IN_PARALLEL).map((orderId) => needsRescue(deps, goodsId, orderId)));
    for (const order of found) {
      if (!order) continue;
      // closeNow, not scheduleClose: a failed job kept under the same id would make the add a no-op
      await deps.queues.closeNow({ orderId: order.orderId, goodsId });
      rescheduled += 1;
      deps.metrics.sweeperRescheduled.inc();
      deps.logger.warn({ orderId: order.orderId, goodsId, overdueMs: Date.now() - order.deadline }, 'sweeper: overdue order had no timeout job; scheduled now');
    }
  }
  return rescheduled;
}

async function needsRescue(deps: CoreDeps, goodsId: string, orderId: string) {
  const order = parseLiveOrder(await deps.redis.hgetall(deps.keys.forGoods(goodsId).order(orderId)));
  if (!order || (order.status !== 'UNPAID' && order.status !== 'CLOSING')) return undefined;
  return (await deps.queues.hasCloseJob(orderId)) ? undefined : order;
}

/** undefined for a goods without a stock counter (an ended sale whose keys expired): nothing live to compare */
async function stockDrift(deps: CoreDeps, goodsId: string) {
  const k = deps.keys.forGoods(goodsId);
  // Redis first, in one round trip, then MySQL: a persister batch committing in between shows as
  // a transient -n drift (counted twice), never as a hidden shortfall.
  const replies = (await deps.redis.multi().get(k.stock).zcard(k.held).scard(k.paidPending).exec()) ?? [];
  const [available, held, paidPending] = replies.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
  if (available == null) return undefined;
  const row = await deps.prisma.seckillGoods.findUnique({ where: { id: BigInt(goodsId) }, select: { stockCount: true } });
  const durable = row?.stockCount ?? 0;
  const live = Number(available ?? 0);
  const drift = durable - (live + Number(held) + Number(paidPending));
  deps.metrics.stockDrift.set({ goods_id: goodsId }, drift);
  return { goodsId, durable, available: live, held: Number(held), paidPending: Number(paidPending), drift };
}
