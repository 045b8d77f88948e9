import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Queues } from '../../src/infra/queues/queues.js';
import { eventually } from '../../src/sandbox/testing.js';
import { WALK_ALL_EVERY_MS, pumpTimers, startTimerPump } from '../../src/workers/timer-pump.js';
import { type TestSystem, createTestSystem } from '../helpers/system.js';
import { closeJobState, grab, newGoods, timerScheduled } from './support.js';

/**
 * The timer pump visits only goods with timer requests waiting (the `timer-goods` set the grab
 * fills when it finds a goods' list empty), not every goods ever sold; a goods the set missed is
 * still pumped by the walk over every live goods on start and every WALK_ALL_EVERY_MS. No
 * workers run here: the tests drive the pump themselves.
 */
describe('timer pump: only goods with requests', () => {
  let s: TestSystem;
  beforeAll(async () => {
    s = await createTestSystem({ workers: false });
  });
  afterAll(async () => s?.close());

  const core = () => s.infra.core;
  const pumpDeps = () => ({ redis: core().redis, keys: core().keys, queues: core().queues, logger: core().logger });

  it('a pass visits the one goods that has a request among 30 live goods, and leaves the set empty', async () => {
    const goods = await Promise.all(Array.from({ length: 30 }, () => newGoods(s, 5)));
    await pumpTimers(pumpDeps(), { walkAll: true }); // whatever earlier tests left
    const order = await grab(s, 'tp-one', goods[7]!);
    expect(await core().redis.smembers(core().keys.timerGoods)).toEqual([goods[7]]);

    const lpop = vi.spyOn(core().redis, 'lpop');
    try {
      expect(await pumpTimers(pumpDeps())).toBe(1);
      expect(lpop.mock.calls.map(([key]) => key)).toEqual([core().keys.forGoods(goods[7]!).timers]);
      lpop.mockClear();
      // the safety walk visits every live goods
      expect(await pumpTimers(pumpDeps(), { walkAll: true })).toBe(0);
      expect(lpop.mock.calls.length).toBeGreaterThanOrEqual(30);
    } finally {
      lpop.mockRestore();
    }
    expect(await timerScheduled(s, order.orderId)).toBe('delayed');
    expect(await core().redis.scard(core().keys.timerGoods)).toBe(0);
    // the next grab finds the list empty again and names its goods once more
    await grab(s, 'tp-two', goods[7]!);
    expect(await core().redis.smembers(core().keys.timerGoods)).toEqual([goods[7]]);
    expect(await pumpTimers(pumpDeps())).toBe(1);
  });

  it('a request whose goods never reached the set (a crash after the grab) is pumped by the walk: at start, then every WALK_ALL_EVERY_MS', async () => {
    const goodsId = await newGoods(s, 5);
    const first = await grab(s, 'tp-lost-1', goodsId);
    await core().redis.srem(core().keys.timerGoods, goodsId); // the grab's SADD never happened
    expect(await pumpTimers(pumpDeps())).toBe(0);
    expect(await closeJobState(s, first.orderId)).toBe('gone');

    const pump = startTimerPump(pumpDeps(), 100);
    try {
      await eventually(async () => ((await closeJobState(s, first.orderId)) !== 'gone' ? true : undefined), 2_000, 20);
      const second = await grab(s, 'tp-lost-2', goodsId);
      await core().redis.srem(core().keys.timerGoods, goodsId);
      const started = Date.now();
      // (due by then: 1 s windows here, so the job is waiting rather than delayed)
      await eventually(async () => ((await closeJobState(s, second.orderId)) !== 'gone' ? true : undefined), WALK_ALL_EVERY_MS + 2_000, 50);
      expect(Date.now() - started).toBeLessThan(WALK_ALL_EVERY_MS + 2_000);
    } finally {
      await pump.close();
    }
  }, 20_000);

  it('a grab whose flag for the pump fails still succeeds (201, the order reserved): the walk pumps its request', async () => {
    const goodsId = await newGoods(s, 5);
    const sadd = vi.spyOn(core().redis, 'sadd').mockRejectedValueOnce(new Error('Connection is closed.'));
    try {
      const order = await grab(s, 'tp-sadd-fails', goodsId);
      expect(sadd).toHaveBeenCalledTimes(1);
      expect(await core().redis.sismember(core().keys.timerGoods, goodsId)).toBe(0);
      expect(await pumpTimers(pumpDeps())).toBe(0);
      expect(await pumpTimers(pumpDeps(), { walkAll: true })).toBe(1);
      expect(await closeJobState(s, order.orderId)).not.toBe('gone');
    } finally {
      sadd.mockRestore();
    }
  });

  it('a pass that cannot add the jobs gives the requests back and keeps the goods in the set', async () => {
    const goodsId = await newGoods(s, 5);
    const order = await grab(s, 'tp-fail', goodsId);
    const failing = { scheduleCloses: () => Promise.reject(new Error('queue Redis unavailable')) } as unknown as Queues;
    await expect(pumpTimers({ ...pumpDeps(), queues: failing })).rejects.toThrow('queue Redis unavailable');
    expect(await core().redis.sismember(core().keys.timerGoods, goodsId)).toBe(1);
    expect(await core().redis.lrange(core().keys.forGoods(goodsId).timers, 0, -1)).toEqual([`${order.orderId}:${Date.parse(order.deadline)}`]);
    expect(await pumpTimers(pumpDeps())).toBe(1);
    expect(await timerScheduled(s, order.orderId)).toBe('delayed');
  });
});
