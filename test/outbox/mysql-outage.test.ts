import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../src/sandbox/testing.js';
import { PrivateMariaDb } from '../helpers/mariadb-server.js';
import { type TestSystem, createTestSystem } from '../helpers/system.js';
import { type Goods, type Order, createGoods, grab, pay, stock } from '../payments/support.js';

const DUE = 300;
const PAID = 120;
const WINDOW_MS = 12_000; // long enough to grab and /pay the orders on a loaded machine before any falls due

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * design §6 on a bad day: MySQL (a private mariadbd this test kills) is gone for much longer than
 * the close path's whole retry budget while hundreds of orders fall due and buyers pay. The sale
 * goes on from Redis and WeChat; nothing goes to review because of MySQL; once MySQL is back the
 * persister writes every outcome, and stock is exact.
 */
describe('MySQL down for longer than the close retry budget', () => {
  let mysql: PrivateMariaDb;
  let s: TestSystem;
  let goods: Goods;

  beforeAll(async () => {
    mysql = await PrivateMariaDb.start();
    s = await createTestSystem({
      databaseServerUrl: mysql.url,
      // retry budget ≈ 50+100+200 ms: a 10 s outage is ~30 times longer
      env: { ORDER_TIMEOUT_MS: String(WINDOW_MS), CLOSE_MAX_ATTEMPTS: '4', CLOSE_BACKOFF_MS: '50', WORKER_CONCURRENCY: '50' },
    });
    goods = await createGoods(s, 100, DUE + PAID + 10, 'outage');
  }, 120_000);
  afterAll(async () => {
    await mysql?.resume().catch(() => undefined);
    await s?.close();
    await mysql?.destroy();
  });

  it(`${DUE} orders fall due and ${PAID} are paid while MySQL is down: every one lands in MySQL afterwards`, { timeout: 120_000 }, async () => {
    const orders: Order[] = [];
    // the payers first, each with its WeChat order (/pay) right away, then the orders that fall due
    for (let i = 0; i < DUE + PAID; i += 20) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(20, DUE + PAID - i) }, async (_, j) => {
          const buyer = `outage-${i + j}`;
          const order = await grab(s, buyer, goods.id);
          if (i + j < PAID) expect((await pay(s, buyer, order.orderId)).statusCode).toBe(200);
          return order;
        }),
      );
      orders.push(...batch);
    }
    const payers = orders.slice(0, PAID);

    await mysql.stop();
    const outageStart = Date.now();
    // the buyers pay at WeChat; notifications → RabbitMQ → payment jobs, all without MySQL
    for (const order of payers) expect((await s.sandbox.pay(order.orderId)).status).toBe(200);

    // every order reaches its final state in Redis while MySQL is still down
    const k = s.infra.core.keys.forGoods(goods.id);
    await eventually(async () => ((await s.infra.core.redis.zcard(k.outbox)) === DUE + PAID ? true : undefined), 30_000, 100);
    const statuses = await Promise.all(orders.map((o) => s.infra.core.redis.hget(k.order(o.orderId), 'status')));
    expect(statuses.filter((x) => x === 'PAID')).toHaveLength(PAID);
    expect(statuses.filter((x) => x === 'CLOSED')).toHaveLength(DUE);
    expect(await s.infra.core.redis.scard(k.paidPending)).toBe(PAID);

    // /ready says MySQL is down and how far behind it is
    const ready = await s.app.inject({ method: 'GET', url: '/ready' });
    expect(ready.statusCode).toBe(503);
    const detail = ready.json<{ checks: Record<string, string>; detail: { persister: { depth: number; oldestAgeMs: number } } }>();
    expect(detail.checks.mysql).toMatch(/^down/);
    expect(detail.detail.persister.depth).toBe(DUE + PAID);
    expect(detail.detail.persister.oldestAgeMs).toBeGreaterThan(0);

    // keep MySQL down well past the close retry budget (and the persister's backoff cap)
    await sleep(Math.max(0, 10_000 - (Date.now() - outageStart)));
    await mysql.resume();

    await eventually(async () => ((await s.infra.core.redis.zcard(k.outbox)) === 0 ? true : undefined), 60_000, 100);
    const prisma = s.infra.core.prisma;
    const rows = await prisma.seckillOrder.groupBy({ by: ['status'], where: { goodsId: BigInt(goods.id) }, _count: true });
    expect(Object.fromEntries(rows.map((r) => [r.status, r._count]))).toEqual({ CLOSED: DUE, PAID });
    expect(await prisma.reviewItem.count()).toBe(0);
    expect(await prisma.paymentEvent.count()).toBe(PAID);
    expect(await prisma.seckillOrder.count({ where: { saleCounted: true } })).toBe(PAID);
    expect(await stock(s, goods.id)).toEqual({ stockCount: DUE + 10, available: DUE + 10 });
    expect(await s.infra.core.redis.scard(k.paidPending)).toBe(0);
    expect(await s.infra.core.redis.zcard(k.held)).toBe(0);
    // persisted final orders expire from Redis again (a day later)
    expect(await s.infra.core.redis.ttl(k.order(orders[0]!.orderId))).toBeGreaterThan(0);
  });
});
