import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../src/sandbox/testing.js';
import { type TestSystem, createTestSystem } from '../helpers/system.js';

describe('end to end smoke: grab → timeout → closed at WeChat → stock back', () => {
  let s: TestSystem;
  beforeAll(async () => {
    s = await createTestSystem();
  });
  afterAll(async () => s?.close());

  it('closes an unpaid order after its window and puts the unit back', async () => {
    const goods = (await s.app.inject({ method: 'POST', url: '/admin/seckill/goods', headers: s.admin, payload: {
      title: 'smoke', price: 100, stockCount: 1, startTime: new Date(Date.now() - 60_000).toISOString(), endTime: new Date(Date.now() + 3_600_000).toISOString(),
    } })).json();
    const order = (await s.app.inject({ method: 'POST', url: '/seckill/orders', headers: s.buyer('b1'), payload: { goodsId: goods.id } })).json();
    const pay = await s.app.inject({ method: 'POST', url: `/seckill/orders/${order.orderId}/pay`, headers: s.buyer('b1') });
    expect(pay.statusCode).toBe(200);
    expect(pay.json().codeUrl).toMatch(/^weixin:\/\//);
    const closed = await eventually(async () => {
      const res = (await s.app.inject({ method: 'GET', url: `/seckill/orders/${order.orderId}`, headers: s.buyer('b1') })).json();
      return res.status === 'CLOSED' ? res : undefined;
    }, 10_000);
    expect(closed.closeReason).toBe('TIMEOUT');
    const g = (await s.app.inject({ method: 'GET', url: `/admin/seckill/goods/${goods.id}`, headers: s.admin })).json();
    expect(g).toMatchObject({ stockCount: 1, available: 1 });
    const ledger = await s.sandbox.ledger();
    expect(JSON.stringify(ledger)).toContain(order.orderId);
  });
});
