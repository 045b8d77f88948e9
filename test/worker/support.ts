import { type ChildProcess, spawn } from 'node:child_process';
import { expect } from 'vitest';
import type { RawEnv } from '../../src/config/env.js';
import { OrderIdGenerator } from '../../src/domain/orders/order-id.js';
import { Transition } from '../../src/domain/orders/transition-codes.js';
import type { Infra } from '../../src/infra/context.js';
import { jobId } from '../../src/infra/queues/catalogue.js';
import { drainOutboxBatch } from '../../src/domain/outbox/drain-batch.js';
import { eventually } from '../../src/sandbox/testing.js';
import type { TestSystem } from '../helpers/system.js';

/**
 * Helpers of the timeout-worker tests: everything goes through the real API (inject), the
 * sandbox's control API over HTTP, Redis and MySQL, as a buyer, an admin and WeChat would see it.
 */

export interface OrderJson {
  orderId: string;
  goodsId: string;
  money: number;
  status: string;
  deadline: string;
  closeReason?: string;
  payTime?: string;
  closeAfter?: string;
}

export async function newGoods(s: TestSystem, stockCount = 1, price = 100): Promise<string> {
  const res = await s.app.inject({
    method: 'POST',
    url: '/admin/seckill/goods',
    headers: s.admin,
    payload: { title: 'timeout test', price, stockCount, startTime: new Date(Date.now() - 60_000).toISOString(), endTime: new Date(Date.now() + 3_600_000).toISOString() },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json<{ id: string }>().id;
}

export async function grab(s: TestSystem, buyer: string, goodsId: string): Promise<OrderJson> {
  const res = await s.app.inject({ method: 'POST', url: '/seckill/orders', headers: s.buyer(buyer), payload: { goodsId } });
  expect(res.statusCode, res.body).toBe(201);
  return res.json<OrderJson>();
}

/** unifiedorder through our API: the order now exists at the sandbox ("WeChat"). */
export async function createAtWeChat(s: TestSystem, buyer: string, orderId: string): Promise<void> {
  const res = await s.app.inject({ method: 'POST', url: `/seckill/orders/${orderId}/pay`, headers: s.buyer(buyer) });
  expect(res.statusCode, res.body).toBe(200);
}

export async function getOrder(s: TestSystem, buyer: string, orderId: string): Promise<OrderJson> {
  const res = await s.app.inject({ method: 'GET', url: `/seckill/orders/${orderId}`, headers: s.buyer(buyer) });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<OrderJson>();
}

export async function waitForStatus(s: TestSystem, buyer: string, orderId: string, status: string, timeoutMs = 10_000): Promise<OrderJson> {
  let last = '';
  try {
    return await eventually(async () => {
      const res = await s.app.inject({ method: 'GET', url: `/seckill/orders/${orderId}`, headers: s.buyer(buyer) });
      if (res.statusCode !== 200) {
        last = `HTTP ${res.statusCode}`; // e.g. 404 until the sweeper repairs a missing order index
        return undefined;
      }
      const order = res.json<OrderJson>();
      last = order.status;
      return order.status === status ? order : undefined;
    }, timeoutMs, 25);
  } catch {
    throw new Error(`order ${orderId} did not become ${status} within ${timeoutMs} ms (last status ${last})`);
  }
}

export interface StockFigures {
  /** durable: MySQL stock_count */
  stockCount: number;
  /** live: Redis available */
  available: number;
  /** orders holding a unit (Redis held set) */
  held: number;
}

/** Wait until the persister has taken every final state of the goods to MySQL (design §6). */
export async function outboxDrained(s: { infra: Infra }, goodsId: string, timeoutMs = 10_000): Promise<void> {
  const k = s.infra.core.keys.forGoods(goodsId);
  await eventually(async () => ((await s.infra.core.redis.zcard(k.outbox)) === 0 ? true : undefined), timeoutMs, 10).catch(() => {
    throw new Error(`the outbox of goods ${goodsId} was not drained within ${timeoutMs} ms`);
  });
}

/** Run one persister batch of the goods in this process (tests whose workers are not running). */
export async function persistNow(infra: Infra, goodsId: string): Promise<void> {
  await drainOutboxBatch(infra.core, goodsId, { batchSize: 500 });
}

/** Stock figures once MySQL has caught up with Redis (the outbox is empty). */
export async function stock(s: TestSystem, goodsId: string): Promise<StockFigures> {
  await outboxDrained(s, goodsId);
  const res = await s.app.inject({ method: 'GET', url: `/admin/seckill/goods/${goodsId}`, headers: s.admin });
  expect(res.statusCode, res.body).toBe(200);
  const g = res.json<{ stockCount: number; available: number }>();
  const held = await s.infra.core.redis.zcard(s.infra.core.keys.forGoods(goodsId).held);
  return { stockCount: g.stockCount, available: g.available, held };
}

/**
 * design §3/§6: durable stock = Redis available + units held by unpaid/closing/review orders
 * (+ paid orders still in the outbox, none once stock() has waited for it to drain).
 */
export async function expectBalanced(s: TestSystem, goodsId: string): Promise<StockFigures> {
  const f = await stock(s, goodsId);
  expect(f.stockCount, `stock accounting of goods ${goodsId}: ${JSON.stringify(f)}`).toBe(f.available + f.held);
  return f;
}

export function dbOrder(s: TestSystem, orderId: string) {
  return s.infra.core.prisma.seckillOrder.findUnique({ where: { id: orderId } });
}

export async function sandboxState(s: TestSystem, orderId: string): Promise<string | undefined> {
  const answer = await s.sandbox.order(orderId);
  return answer.status === 200 ? (answer.body.trade_state as string) : undefined;
}

export async function ledgerCounts(s: TestSystem, orderId: string): Promise<{ closed: number; paid: number }> {
  const ledger = await s.sandbox.ledger();
  return {
    closed: ledger.closed.filter((e) => e.out_trade_no === orderId).length,
    paid: ledger.paid.filter((e) => e.out_trade_no === orderId).length,
  };
}

/** Current value of a labelled counter of one process's metrics. */
export async function counter(infra: Infra, name: 'wechatCalls' | 'ordersClosed' | 'ordersToReview', labels: Record<string, string>): Promise<number> {
  const metric = await infra.core.metrics[name].get();
  return metric.values
    .filter((v) => Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want))
    .reduce((sum, v) => sum + v.value, 0);
}

/** Wait until the timer pump has turned the order's timer request into its delayed close job. */
export async function timerScheduled(s: TestSystem, orderId: string): Promise<string> {
  return eventually(async () => {
    const state = await closeJobState(s, orderId);
    return state === 'gone' ? undefined : state;
  }, 5_000, 20);
}

export async function closeJobState(s: TestSystem, orderId: string): Promise<string> {
  const job = await s.infra.core.queues.byName['order-timeout'].getJob(jobId.closeOrder(orderId));
  return job ? job.getState() : 'gone';
}

let node = 900;
/**
 * Reserve a unit with the reserveOrder script directly, with its timer request lost: the
 * "worker died between the timer pump's pop and its job add" case, or any lost job.
 */
export async function reserveWithoutJob(s: TestSystem, buyer: string, goodsId: string, windowMs: number): Promise<string> {
  const ids = new OrderIdGenerator((node += 1) % 1024);
  const orderId = ids.next(goodsId);
  const k = s.infra.core.keys.forGoods(goodsId);
  // the timer request goes to a list no pump reads (same hash slot): as if it had been lost
  const lostTimers = `${k.timers}:lost`;
  const [code] = await s.infra.core.redis.reserveOrder(k.goods, k.stock, k.held, k.order(orderId), k.buyer(buyer), lostTimers, orderId, buyer, goodsId, windowMs);
  expect(code).toBe(Transition.Done);
  await s.infra.core.redis.del(lostTimers);
  return orderId;
}

/**
 * A worker process exactly as deployed (`node --import tsx src/workers/main.ts`), with the
 * test's environment; its output is kept for the failure message.
 */
export interface WorkerChild {
  child: ChildProcess;
  output(): string;
  /** resolves with the exit code (or the signal name) */
  exited: Promise<number | string>;
  started: Promise<void>;
}

export function spawnWorker(env: RawEnv): WorkerChild {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/workers/main.ts'], {
    cwd: process.cwd(),
    env: { ...process.env, ...env, LOG_LEVEL: 'info', CI: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let onStarted: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (onStarted = resolve));
  const collect = (chunk: Buffer) => {
    out += chunk.toString('utf8');
    if (out.includes('"worker started"')) onStarted();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  return {
    child,
    output: () => out,
    exited,
    started: Promise.race([
      started,
      exited.then((code) => {
        throw new Error(`worker process exited (${code}) before starting:\n${out}`);
      }),
      new Promise<void>((_, reject) => setTimeout(() => reject(new Error(`worker process did not start within 20 s:\n${out}`)), 20_000)),
    ]),
  };
}

/** Ends a child this test started (by its own handle), if it is still running. */
export async function killChild(w: WorkerChild | undefined): Promise<void> {
  if (!w || w.child.exitCode !== null || w.child.signalCode !== null) return;
  w.child.kill('SIGKILL');
  await w.exited;
}

/** Payment jobs stored for one order (ids are per event: payment-<orderId>-…). */
export async function paymentJobsOf(infra: Infra, orderId: string) {
  const jobs = await infra.core.queues.byName['payment-result'].getJobs(['waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized']);
  return jobs.filter((job) => job.data.out_trade_no === orderId);
}
