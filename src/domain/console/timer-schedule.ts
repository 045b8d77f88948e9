import type { CoreDeps } from '../deps.js';

/** Close timers of one goods falling due within one minute (wall clock, UTC). */
export interface TimerBucket {
  /** start of the minute, ISO-8601 */
  minute: string;
  count: number;
}

export interface TimerSchedule {
  /** orders whose deadline has passed and that still hold their unit: their close is running */
  due: number;
  /** orders waiting for their deadline, by the minute it falls in; the last bucket may hold all later ones */
  byMinute: TimerBucket[];
  /** the first orders to fall due (due ones first), to find one order's timer */
  next: { orderId: string; deadline: string }[];
}

const MINUTE = 60_000;
/** a bar per minute up to an hour ahead (the default payment window is 30 min); later ones join the last bar */
export const MAX_TIMER_BUCKETS = 60;
const NEXT_SHOWN = 5;

type Deps = Pick<CoreDeps, 'redis' | 'keys'>;

/**
 * Pending close timers of one goods, read from its held set (orderId → deadline ms, +inf for an
 * order in review): every unpaid or closing order has exactly one timer, due at its deadline
 * (`timeout-<orderId>`, design §4), so the held set is the timer schedule of the goods without
 * asking BullMQ, whose delayed set is one per queue and knows nothing of goods. One ZCOUNT per
 * minute (O(log n) each), never a read of every order: a sale may hold a million units.
 */
export async function readTimerSchedule(deps: Deps, goodsId: string, now = Date.now()): Promise<TimerSchedule> {
  const held = deps.keys.forGoods(goodsId).held;
  const [due, last, first] = await Promise.all([
    deps.redis.zcount(held, '-inf', now),
    deps.redis.zrevrangebyscore(held, '(+inf', `(${now}`, 'WITHSCORES', 'LIMIT', 0, 1),
    deps.redis.zrangebyscore(held, '-inf', '(+inf', 'WITHSCORES', 'LIMIT', 0, NEXT_SHOWN),
  ]);
  const next = pairs(first).map(([orderId, score]) => ({ orderId, deadline: new Date(score).toISOString() }));
  const latest = pairs(last)[0]?.[1];
  if (latest === undefined) return { due, byMinute: [], next };

  const firstMinute = Math.floor(now / MINUTE) * MINUTE;
  const minutes = Math.min(MAX_TIMER_BUCKETS, Math.floor(latest / MINUTE) - firstMinute / MINUTE + 1);
  const counts = await Promise.all(
    Array.from({ length: minutes }, (_, i) => {
      const from = i === 0 ? `(${now}` : String(firstMinute + i * MINUTE);
      const to = i === minutes - 1 ? '(+inf' : `(${firstMinute + (i + 1) * MINUTE}`;
      return deps.redis.zcount(held, from, to);
    }),
  );
  return { due, byMinute: counts.map((count, i) => ({ minute: new Date(firstMinute + i * MINUTE).toISOString(), count })), next };
}

/** `[member, score, member, score…]` (WITHSCORES) as pairs. */
function pairs(flat: string[]): [string, number][] {
  const out: [string, number][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, Number(flat[i + 1])]);
  return out;
}
