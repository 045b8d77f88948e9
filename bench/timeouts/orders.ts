import type { RedisClient as Redis } from '../../src/infra/redis/client.js';
import type { Queue } from 'bullmq';
import type { OrderIdGenerator } from '../../src/domain/orders/order-id.js';
import { Transition } from '../../src/domain/orders/transition-codes.js';
import type { KeySpace } from '../../src/infra/redis/keys.js';
import type { WeChatPayClient } from '../../src/infra/wechat/client.js';

/**
 * Bulk order set-up and measurement for the timeouts benchmark. Orders are created the way the
 * API creates them (the reserveOrder Lua script), in pipelines, with the deadline chosen per
 * order. Timers: the script's own timer requests, turned into BullMQ delayed jobs by the worker
 * processes' timer pump (addBulk), or, for the original design, RabbitMQ messages (see
 * original-timer.ts).
 */

export interface BenchOrder {
  orderId: string;
  buyer: string;
  /** the wanted deadline (ms); after reserveAll, the deadline the script stamped */
  due: number;
}

export function planOrders(ids: OrderIdGenerator, goodsId: string, label: string, dues: number[]): BenchOrder[] {
  return dues.map((due, i) => ({ orderId: ids.next(goodsId), buyer: `${label}-${i}`, due }));
}

/** unifiedorder at the sandbox for every order, so closeorder closes a real WeChat order. */
export async function createAtWeChat(wechat: WeChatPayClient, goodsId: string, orders: BenchOrder[], concurrency = 128): Promise<void> {
  let next = 0;
  const failures: string[] = [];
  const lane = async () => {
    while (next < orders.length) {
      const order = orders[next++]!;
      const result = await wechat.unifiedOrder({ outTradeNo: order.orderId, totalFee: 100, body: 'bench', productId: goodsId, notifyUrl: 'http://127.0.0.1:9/pay/wechat/notify' });
      if (result.kind !== 'ok') failures.push(`${order.orderId}: ${JSON.stringify(result)}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  if (failures.length) throw new Error(`unifiedorder failed for ${failures.length} orders, e.g. ${failures[0]}`);
}

/**
 * reserveOrder (window = due − now), 1,000 per pipeline, exactly as the API calls it: the script
 * also queues each order's timer request in `timers`, which the workers' timer pump turns into
 * the delayed job (pass a list nobody pumps for the original design's runs). Each order's `due`
 * then becomes the deadline the script stamped (Redis clock, after the pipeline's own delay).
 */
export async function reserveAll(redis: Redis, keys: KeySpace, goodsId: string, orders: BenchOrder[], timers = keys.forGoods(goodsId).timers): Promise<void> {
  const k = keys.forGoods(goodsId);
  for (let i = 0; i < orders.length; i += 1_000) {
    const batch = orders.slice(i, i + 1_000);
    const pipe = redis.pipeline();
    const now = Date.now();
    for (const o of batch) {
      pipe.reserveOrder(k.goods, k.stock, k.held, k.order(o.orderId), k.buyer(o.buyer), timers, o.orderId, o.buyer, goodsId, Math.max(1, o.due - now));
    }
    const replies = (await pipe.exec()) ?? [];
    let listWasEmpty = false;
    replies.forEach(([err, reply], j) => {
      if (err) throw err;
      const [code, , deadline, , queued] = reply as number[];
      if (code !== Transition.Done) throw new Error(`reserveOrder returned ${code} for order ${batch[j]!.orderId}`);
      batch[j]!.due = deadline!;
      listWasEmpty ||= queued === 1;
    });
    // as the API does (reserve.ts): the pump visits goods in this set
    if (listWasEmpty && timers === k.timers) await redis.sadd(keys.timerGoods, goodsId);
  }
}

/**
 * Wait until every order's close job exists (the timer pump has turned all requests into
 * delayed jobs); returns how long that took. With `heldKey` (the goods' held set), orders closed
 * meanwhile count as done: a set-up slow enough for the first deadlines to pass sees their jobs
 * finish (and be removed) before the last ones exist.
 */
export async function waitForTimers(redis: Redis, queue: Pick<Queue, 'getJobCountByTypes'>, timersList: string, count: number, timeoutMs = 60_000, heldKey?: string): Promise<number> {
  const started = Date.now();
  for (;;) {
    const [pending, jobs, open] = await Promise.all([
      redis.llen(timersList),
      queue.getJobCountByTypes('delayed', 'wait', 'active', 'prioritized'),
      heldKey ? redis.zcard(heldKey) : Promise.resolve(count),
    ]);
    if (pending === 0 && jobs >= Math.min(count, open)) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`timer pump: ${pending} requests still queued, ${jobs} of ${count} jobs after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Wait until no order of the goods holds a unit; fails when nothing moves for `stallMs`. */
export async function waitUntilAllClosed(redis: Redis, keys: KeySpace, goodsId: string, stallMs = 60_000, describe?: () => Promise<string>): Promise<void> {
  const held = keys.forGoods(goodsId).held;
  let last = -1;
  let lastChange = Date.now();
  for (;;) {
    const n = await redis.zcard(held);
    if (n === 0) return;
    if (n !== last) {
      last = n;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > stallMs) {
      throw new Error(`${n} orders of goods ${goodsId} still unclosed, no progress for ${stallMs} ms${describe ? `: ${await describe()}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface Closed {
  orderId: string;
  deadline: number;
  closedAt: number;
  status: string;
}

/** Deadline and closedAt of each order, from its Redis hash (both stamped by Redis's clock). */
export async function readClosed(redis: Redis, keys: KeySpace, goodsId: string, orders: BenchOrder[]): Promise<Closed[]> {
  const k = keys.forGoods(goodsId);
  const out: Closed[] = [];
  for (let i = 0; i < orders.length; i += 2_000) {
    const batch = orders.slice(i, i + 2_000);
    const pipe = redis.pipeline();
    for (const o of batch) pipe.hmget(k.order(o.orderId), 'deadline', 'closedAt', 'status');
    const replies = (await pipe.exec()) ?? [];
    replies.forEach(([err, reply], j) => {
      if (err) throw err;
      const [deadline, closedAt, status] = reply as (string | null)[];
      out.push({ orderId: batch[j]!.orderId, deadline: Number(deadline), closedAt: Number(closedAt), status: status ?? 'missing' });
    });
  }
  return out;
}

/** Nearest-rank percentile of unsorted values. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export interface Lateness {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  min: number;
}

export function lateness(closed: Closed[]): Lateness {
  const late = closed.map((c) => c.closedAt - c.deadline);
  return { n: late.length, p50: percentile(late, 50), p95: percentile(late, 95), p99: percentile(late, 99), max: Math.max(...late), min: Math.min(...late) };
}
