import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WeChatPayClient } from '../../src/infra/wechat/client.js';
import { eventually } from '../../src/sandbox/testing.js';
import { type TestSystem, createTestSystem } from '../helpers/system.js';
import { counter } from '../worker/support.js';
import { type Goods, createGoods, grab, paymentPipelineIdle, waitForStatus } from './support.js';

/**
 * design §7: a payment for an order already CLOSED is refunded in full, once, through WeChat's
 * refund (same out_refund_no on every try) and confirmed with refundquery; its review resolves
 * itself. A refund answer that cannot be trusted marks nothing refunded.
 */
describe('late payments are refunded', () => {
  let s: TestSystem;
  let goods: Goods;
  let outsider: WeChatPayClient;

  beforeAll(async () => {
    s = await createTestSystem({ env: { ORDER_TIMEOUT_MS: '600000' } });
    goods = await createGoods(s, 800, 10, 'late');
    outsider = new WeChatPayClient({ ...s.config.wechat, baseUrl: s.sandbox.url });
  });
  afterAll(async () => {
    await outsider?.close();
    await s?.close();
  });

  /** An order we closed (never created at WeChat), then created and paid at WeChat behind our back. */
  async function latePayment(buyer: string) {
    const order = await grab(s, buyer, goods.id);
    const cancel = await s.app.inject({ method: 'POST', url: `/seckill/orders/${order.orderId}/cancel`, headers: s.buyer(buyer) });
    expect(cancel.statusCode).toBe(202);
    await waitForStatus(s, buyer, order.orderId, 'CLOSED');
    const created = await outsider.unifiedOrder({ outTradeNo: order.orderId, totalFee: order.money, body: 'late', productId: goods.id, notifyUrl: s.config.wechat.notifyUrl });
    expect(created.kind).toBe('ok');
    const paid = await s.sandbox.pay(order.orderId);
    return { order, transactionId: paid.body.transaction_id as string };
  }
  const reviewOf = (orderId: string) => s.infra.core.prisma.reviewItem.findFirst({ where: { orderId, kind: 'PAID_AFTER_CLOSE' } });
  const refundsAt = async (orderId: string) => (await s.sandbox.ledger()).refunds.filter((r) => r.out_trade_no === orderId);
  const listed = async (orderId: string) => {
    const res = await s.app.inject({ method: 'GET', url: '/admin/seckill/reviews?status=RESOLVED', headers: s.admin });
    return res.json<{ orderId: string; outcome?: string; refund?: { outRefundNo: string; status: string } }[]>().find((r) => r.orderId === orderId);
  };

  it('refunds the full amount exactly once and resolves the review (REFUNDED)', async () => {
    const { order } = await latePayment('late-1');
    const review = await eventually(async () => ((await reviewOf(order.orderId))?.status === 'RESOLVED' ? reviewOf(order.orderId) : undefined), 20_000, 100);
    expect(review).toMatchObject({ outcome: 'REFUNDED', outRefundNo: `RF${order.orderId}`, refundStatus: 'SUCCESS' });
    const refunds = await refundsAt(order.orderId);
    expect(refunds).toHaveLength(1);
    expect(refunds[0]).toMatchObject({ out_refund_no: `RF${order.orderId}`, refund_fee: order.money, total_fee: order.money });
    expect(await listed(order.orderId)).toMatchObject({ outcome: 'REFUNDED', refund: { outRefundNo: `RF${order.orderId}`, status: 'SUCCESS' } });
    // the order stays CLOSED; its unit was never sold twice
    expect((await s.infra.core.prisma.seckillOrder.findUnique({ where: { id: order.orderId } }))?.status).toBe('CLOSED');
  });

  it('a payment job that died between recording the late payment and asking for the refund still refunds when retried', async () => {
    const queues = s.workerInfra.core.queues;
    // the process "dies" right after markPaid recorded the payment: the job fails and is retried
    const scheduleRefund = vi.spyOn(queues, 'scheduleRefund').mockRejectedValueOnce(new Error('killed before the refund request'));
    try {
      const { order } = await latePayment('late-crash');
      const review = await eventually(async () => ((await reviewOf(order.orderId))?.status === 'RESOLVED' ? reviewOf(order.orderId) : undefined), 20_000, 100);
      expect(review).toMatchObject({ outcome: 'REFUNDED', refundStatus: 'SUCCESS' });
      expect(scheduleRefund.mock.calls.length).toBeGreaterThanOrEqual(2);
      expect(await refundsAt(order.orderId)).toHaveLength(1);
    } finally {
      scheduleRefund.mockRestore();
    }
  });

  it('SYSTEMERROR three times: retried with the same out_refund_no, still one refund', async () => {
    await s.sandbox.faults({ systemErrorRate: { refund: 1 } });
    const retried = () => counter(s.workerInfra, 'wechatCalls', { api: 'refund', result: 'retryable' });
    const before = await retried();
    const { order } = await latePayment('late-2');
    try {
      await eventually(async () => ((await retried()) >= before + 3 ? true : undefined), 20_000, 50);
    } finally {
      await s.sandbox.faults({ systemErrorRate: 0 });
    }
    await eventually(async () => ((await reviewOf(order.orderId))?.status === 'RESOLVED' ? true : undefined), 30_000, 100);
    expect(await refundsAt(order.orderId)).toHaveLength(1);
  });

  it('a forged refund answer marks nothing refunded: the review stays open and says why', async () => {
    await s.sandbox.faults({ tamper: { refund: 'bad-signature' } });
    try {
      const { order } = await latePayment('late-3');
      const review = await eventually(async () => {
        const item = await reviewOf(order.orderId);
        return item?.refundStatus?.startsWith('FAILED') ? item : undefined;
      }, 20_000, 100);
      expect(review).toMatchObject({ status: 'OPEN', outcome: null });
      expect(review?.refundStatus).toMatch(/signature/);
      await paymentPipelineIdle(s.infra);
      expect((await reviewOf(order.orderId))?.status).toBe('OPEN');
    } finally {
      await s.sandbox.faults({ tamper: 'none' });
    }
  });
});
