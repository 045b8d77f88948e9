import { expect } from 'vitest';
import { eventually } from '../../src/sandbox/testing.js';
import type { TestSystem } from '../helpers/system.js';
import { type Order, grab, waitForStatus } from '../payments/support.js';
import { outboxDrained, reserveWithoutJob } from '../worker/support.js';

/** Steps shared by the console tests (test/console/*.test.ts), through the real API and sandbox. */

/**
 * A grabbed order whose close fails at WeChat (the sandbox answers SYSTEMERROR to every
 * closeorder until the retries run out): a CLOSE_FAILED review holding its unit, listed once
 * MySQL has it. The buyer's cancel starts the close at once (no waiting for the deadline).
 */
export async function orderInReview(s: TestSystem, goodsId: string, buyer: string): Promise<Order> {
  await s.sandbox.faults({ systemErrorRate: { closeorder: 1 } });
  try {
    const order = await grab(s, buyer, goodsId);
    const cancel = await s.app.inject({ method: 'POST', url: `/seckill/orders/${order.orderId}/cancel`, headers: s.buyer(buyer) });
    expect(cancel.statusCode, cancel.body).toBe(202);
    await waitForStatus(s, buyer, order.orderId, 'NEEDS_REVIEW', 10_000);
    await outboxDrained(s, goodsId);
    await eventually(async () => ((await s.infra.core.prisma.reviewItem.count({ where: { orderId: order.orderId, status: 'OPEN' } })) > 0 ? true : undefined), 10_000, 20);
    return order;
  } finally {
    await s.sandbox.faults({ systemErrorRate: { closeorder: 0 } });
  }
}

/** The live `available` of a goods (the admin API's figure). */
export async function available(s: TestSystem, goodsId: string): Promise<number> {
  const res = await s.app.inject({ method: 'GET', url: `/admin/seckill/goods/${goodsId}`, headers: s.admin });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<{ available: number }>().available;
}

/** The form token of a console page (every form of the page carries the same one). */
export function formToken(html: string): string {
  const token = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!token) throw new Error('no form token on the page');
  return token;
}

/** One `data-figure` of one goods on a console page, as a number. */
export function figure(html: string, goodsId: string, name: string): number {
  const article = new RegExp(`<article class="goods" data-goods-id="${goodsId}">([\\s\\S]*?)</article>`).exec(html)?.[1] ?? '';
  const value = new RegExp(`data-figure="${name}">([^<]*)<`).exec(article)?.[1];
  if (value === undefined) throw new Error(`figure ${name} of goods ${goodsId} not on the page`);
  return Number(value);
}

/**
 * Orders that closed by their timer, late: reserved with a short window and their timer request
 * lost (reserveWithoutJob), then closed once overdue by a close job, as the sweeper would do for
 * a lost timer. Each closes some 100+ ms after its deadline: close lateness to read.
 */
export async function lateTimeoutCloses(s: TestSystem, goodsId: string, buyers: string[], windowMs = 100): Promise<string[]> {
  const orderIds = await Promise.all(buyers.map((buyer) => reserveWithoutJob(s, buyer, goodsId, windowMs)));
  await new Promise((resolve) => setTimeout(resolve, windowMs + 100));
  for (const orderId of orderIds) await s.infra.core.queues.closeNow({ orderId, goodsId });
  for (const [i, orderId] of orderIds.entries()) await waitForStatus(s, buyers[i]!, orderId, 'CLOSED', 10_000);
  await outboxDrained(s, goodsId);
  return orderIds;
}
