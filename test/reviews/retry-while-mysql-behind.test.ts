import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestSystem, createTestSystem } from '../helpers/system.js';
import { type Goods, createGoods, grab, waitForStatus } from '../payments/support.js';

/**
 * An admin retry of a failed close must not depend on MySQL having the review yet: with no
 * persister running (MySQL behind or down), the review lives only on the order in Redis.
 */
describe('admin retry while the review is still in the outbox', () => {
  let s: TestSystem;
  let goods: Goods;

  beforeAll(async () => {
    s = await createTestSystem({ persister: false, env: { ORDER_TIMEOUT_MS: '300', CLOSE_MAX_ATTEMPTS: '2', CLOSE_BACKOFF_MS: '20' } });
    await s.sandbox.faults({ systemErrorRate: { closeorder: 1 } });
    goods = await createGoods(s, 300, 3, 'retry-behind');
  });
  afterAll(async () => s?.close());

  it('retries from Redis (202), and the close then succeeds', async () => {
    const order = await grab(s, 'behind-1', goods.id);
    await waitForStatus(s, 'behind-1', order.orderId, 'NEEDS_REVIEW', 10_000);
    expect(await s.infra.core.prisma.reviewItem.count({ where: { orderId: order.orderId } })).toBe(0); // not in MySQL
    await s.sandbox.faults({ systemErrorRate: 0 });
    const retry = await s.app.inject({ method: 'POST', url: `/admin/seckill/reviews/${order.orderId}/retry`, headers: s.admin });
    expect(retry.statusCode, retry.body).toBe(202);
    await waitForStatus(s, 'behind-1', order.orderId, 'CLOSED', 10_000);
    const unknown = await s.app.inject({ method: 'POST', url: `/admin/seckill/reviews/${order.orderId}/retry`, headers: s.admin });
    expect(unknown.statusCode).toBe(404); // CLOSED now, and MySQL has no review: nothing to retry
  });
});
