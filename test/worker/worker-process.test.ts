import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../src/sandbox/testing.js';
import { type TestSystem, createTestSystem } from '../helpers/system.js';
import {
  type OrderJson,
  type WorkerChild,
  closeJobState,
  createAtWeChat,
  dbOrder,
  getOrder,
  grab,
  killChild,
  ledgerCounts,
  newGoods,
  sandboxState,
  spawnWorker,
  stock,
  waitForStatus,
} from './support.js';

/**
 * Worker processes as deployed (`node --import tsx src/workers/main.ts`), with this file's
 * environment and short BullMQ locks (WORKER_LOCK_MS 2000, WORKER_STALLED_INTERVAL_MS 1000):
 * kill -9 in the middle of a close, and SIGTERM in the middle of a close.
 * The sandbox's delay fault holds closeorder answers, so a job is caught mid-closeorder.
 */
describe('worker processes: crash and graceful shutdown mid-close', () => {
  let s: TestSystem;
  const children: WorkerChild[] = [];
  const start = (): WorkerChild => {
    const w = spawnWorker({ ...s.env, WORKER_LOCK_MS: '2000', WORKER_STALLED_INTERVAL_MS: '1000', WORKER_METRICS_PORT: '0' });
    children.push(w);
    return w;
  };

  beforeAll(async () => {
    s = await createTestSystem({ workers: false });
  });
  afterEach(async () => {
    for (const w of children.splice(0)) await killChild(w);
    await s.sandbox.faults({ delayMs: 0 });
  });
  afterAll(async () => s?.close());

  it('kill -9 while closes are in flight: another process completes them after stall recovery; stock exact', { timeout: 60_000 }, async () => {
    const N = 5;
    const goodsId = await newGoods(s, N);
    const orders: OrderJson[] = [];
    for (let i = 0; i < N; i += 1) {
      const order = await grab(s, `k-${i}`, goodsId);
      await createAtWeChat(s, `k-${i}`, order.orderId);
      orders.push(order);
    }
    // answers held far longer than the test: the first process can only die mid-closeorder
    await s.sandbox.faults({ delayMs: { closeorder: 30_000 } });

    const first = start();
    await first.started;
    // each close was applied at "WeChat" and its answer is on the way: every job is mid-closeorder
    await eventually(async () => {
      const states = await Promise.all(orders.map((o) => sandboxState(s, o.orderId)));
      return states.every((st) => st === 'CLOSED') ? true : undefined;
    }, 15_000);
    for (const o of orders) expect(await closeJobState(s, o.orderId)).toBe('active');
    for (const [i, o] of orders.entries()) expect((await getOrder(s, `k-${i}`, o.orderId)).status).toBe('CLOSING');

    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    await s.sandbox.faults({ delayMs: 0 });
    expect(await stock(s, goodsId)).toEqual({ stockCount: N, available: 0, held: N });

    const second = start();
    await second.started;
    for (const [i, o] of orders.entries()) await waitForStatus(s, `k-${i}`, o.orderId, 'CLOSED', 20_000);
    await eventually(async () => {
      const rows = await Promise.all(orders.map((o) => dbOrder(s, o.orderId)));
      return rows.every((r) => r?.status === 'CLOSED') ? rows : undefined;
    });
    // the second process did the work (the first one's answers never came back)
    await eventually(() => (orders.every((o) => second.output().includes(o.orderId)) ? true : undefined), 5_000).catch(() => {
      throw new Error(`the second process did not log every close:\n${second.output()}`);
    });
    expect(first.output()).not.toContain('order closed');
    expect(await stock(s, goodsId)).toEqual({ stockCount: N, available: N, held: 0 });
    for (const o of orders) expect(await ledgerCounts(s, o.orderId)).toEqual({ closed: 1, paid: 0 });
  });

  it('SIGTERM mid-close: the in-flight job finishes, the process exits 0, no new job is taken', { timeout: 60_000 }, async () => {
    const goodsId = await newGoods(s, 2);
    const order = await grab(s, 't-1', goodsId);
    await createAtWeChat(s, 't-1', order.orderId);
    await s.sandbox.faults({ delayMs: { closeorder: 1_500 } });

    const w = start();
    await w.started;
    await eventually(async () => ((await sandboxState(s, order.orderId)) === 'CLOSED' ? true : undefined), 10_000);
    expect(await closeJobState(s, order.orderId)).toBe('active');

    w.child.kill('SIGTERM');
    // an order falling due during the shutdown must be left for another process
    const late = await grab(s, 't-2', goodsId);
    const code = await w.exited;
    expect(code, w.output()).toBe(0);
    expect(w.output()).toContain('stopped cleanly');

    const closed = await getOrder(s, 't-1', order.orderId);
    expect(closed.status).toBe('CLOSED');
    expect((await dbOrder(s, order.orderId))?.status).toBe('CLOSED');
    expect(await ledgerCounts(s, order.orderId)).toEqual({ closed: 1, paid: 0 });

    expect((await getOrder(s, 't-2', late.orderId)).status, `the stopping worker's output:\n${w.output()}`).toBe('UNPAID');
    // its timer is a job already, or still a request queued for the next pump: never lost
    const state = await closeJobState(s, late.orderId);
    const timers = await s.infra.core.redis.lrange(s.infra.core.keys.forGoods(goodsId).timers, 0, -1);
    expect(state === 'delayed' || state === 'waiting' || timers.some((t) => t.startsWith(`${late.orderId}:`)), `job ${state}`).toBe(true);
    // the next worker picks it up
    await s.sandbox.faults({ delayMs: 0 });
    await s.startWorkers();
    try {
      await waitForStatus(s, 't-2', late.orderId, 'CLOSED', 10_000);
    } finally {
      await s.stopWorkers();
    }
    expect(await stock(s, goodsId)).toEqual({ stockCount: 2, available: 2, held: 0 });
  });
});
