import type { CoreDeps } from '../deps.js';
import { parseGoodsId } from '../goods/goods-service.js';
import { type CloseLateness, readCloseLateness } from './close-lateness.js';
import { type TimerSchedule, readTimerSchedule } from './timer-schedule.js';

/** One goods as the operator console shows it: what is for sale, held, sold and closed. */
export interface SaleFigures {
  goodsId: string;
  title: string;
  price: number;
  startTime: string;
  endTime: string;
  phase: 'upcoming' | 'on sale' | 'ended';
  /** durable (MySQL): units not yet sold */
  stockCount: number;
  /** live (Redis): units a buyer can grab now; null when the goods is not in Redis (not loaded yet, or retired) */
  available: number | null;
  /** units held by unpaid or closing orders (each with its close timer: the timers' total) */
  held: number;
  /** units held by orders waiting for a person (review) */
  heldInReview: number;
  /** orders MySQL has, by final state */
  paid: number;
  closed: number;
  inReview: number;
  /** final states in the outbox that MySQL does not have yet (counted above once written) */
  awaitingMysql: number;
  /** timer requests of grabs that the workers' timer pump has not turned into delayed jobs yet */
  timerRequestsQueued: number;
  timers: TimerSchedule;
  lateness: CloseLateness;
}

/** goods shown: every goods of the live sale, plus those whose window ended less than this ago */
const RECENT_MS = 24 * 3_600_000;
const MAX_GOODS = 50;

type Deps = Pick<CoreDeps, 'prisma' | 'redis' | 'keys'>;

/**
 * The console's read model of the sale: reads only (it never loads a goods into Redis or
 * changes anything), from Redis for the live sale and MySQL for the durable record. Each goods'
 * Redis reads go out together (auto-pipelining; its keys share one Cluster slot).
 */
export async function readSaleFigures(deps: Deps, now = new Date()): Promise<SaleFigures[]> {
  const liveIds = (await deps.redis.smembers(deps.keys.liveGoods)).flatMap((id) => parseGoodsId(id) ?? []);
  const rows = await deps.prisma.seckillGoods.findMany({
    where: { OR: [{ id: { in: liveIds } }, { endTime: { gt: new Date(now.getTime() - RECENT_MS) } }] },
    orderBy: [{ startTime: 'desc' }, { id: 'desc' }],
    take: MAX_GOODS,
  });
  if (rows.length === 0) return [];
  const counts = await deps.prisma.seckillOrder.groupBy({ by: ['goodsId', 'status'], where: { goodsId: { in: rows.map((r) => r.id) } }, _count: { _all: true } });
  const countOf = (goodsId: bigint, status: string) => counts.find((c) => c.goodsId === goodsId && c.status === status)?._count._all ?? 0;

  return Promise.all(
    rows.map(async (row) => {
      const goodsId = row.id.toString();
      const k = deps.keys.forGoods(goodsId);
      const [stock, heldInReview, awaitingMysql, timerRequestsQueued, timers, lateness] = await Promise.all([
        deps.redis.get(k.stock),
        deps.redis.zcount(k.held, '+inf', '+inf'),
        deps.redis.zcard(k.outbox),
        deps.redis.llen(k.timers),
        readTimerSchedule(deps, goodsId, now.getTime()),
        readCloseLateness(deps, row.id),
      ]);
      const phase = now < row.startTime ? 'upcoming' : now < row.endTime ? 'on sale' : 'ended';
      return {
        goodsId,
        title: row.title,
        price: row.price,
        startTime: row.startTime.toISOString(),
        endTime: row.endTime.toISOString(),
        phase,
        stockCount: row.stockCount,
        available: stock === null ? null : Number(stock),
        held: timers.due + timers.byMinute.reduce((sum, bucket) => sum + bucket.count, 0),
        heldInReview,
        paid: countOf(row.id, 'PAID'),
        closed: countOf(row.id, 'CLOSED'),
        inReview: countOf(row.id, 'NEEDS_REVIEW'),
        awaitingMysql,
        timerRequestsQueued,
        timers,
        lateness,
      } satisfies SaleFigures;
    }),
  );
}
