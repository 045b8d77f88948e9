import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toBeijingTime } from '../../src/infra/wechat/time.js';
import { WeChatPayClient } from '../../src/infra/wechat/client.js';
import { eventually } from '../../src/sandbox/testing.js';
import { type TestSystem, createTestSystem } from '../helpers/system.js';
import { type Goods, type Order, createGoods, grab, notificationXml, pay, paymentPipelineIdle, postNotify, waitForStatus } from '../payments/support.js';
import { beijingDate } from '../../src/domain/reconciliation/bill-date.js';
import { queueYesterday } from '../../src/domain/reconciliation/report.js';
import { reconcileDay } from '../../src/domain/reconciliation/run.js';
import { readLiveOrder } from '../../src/domain/orders/order-view.js';
import { DAY_MS, report, requestRun, runDay, sandboxDaysBack, untilSucceeded, yesterday } from './support.js';

/**
 * Issue 11 end to end on the real services: yesterday's activity happens at the sandbox (its clock
 * a day back), then yesterday's bill is reconciled through the admin API and the worker's job.
 */
describe('T+1 reconciliation against the sandbox bill', () => {
  let s: TestSystem;
  let goods: Goods;
  let outsider: WeChatPayClient;
  const prisma = () => s.infra.core.prisma;
  const orderRow = (id: string) => prisma().seckillOrder.findUnique({ where: { id } });
  const reviews = (orderId: string) => prisma().reviewItem.findMany({ where: { orderId }, orderBy: { id: 'asc' } });

  beforeAll(async () => {
    s = await createTestSystem({ env: { ORDER_TIMEOUT_MS: '600000', RECONCILIATION_RETRY_MS: '100', RECONCILIATION_AT: '11:15' }, sandbox: { faults: { closeRule: false } } });
    goods = await createGoods(s, 500, 50, 'recon');
    outsider = new WeChatPayClient({ ...s.config.wechat, baseUrl: s.sandbox.url });
  });
  afterAll(async () => {
    await outsider?.close();
    await s?.close();
  });

  async function paidOrder(buyer: string): Promise<Order> {
    const order = await grab(s, buyer, goods.id);
    expect((await pay(s, buyer, order.orderId)).statusCode).toBe(200);
    expect((await s.sandbox.pay(order.orderId)).status).toBe(200);
    return order;
  }
  /** Paid at WeChat `daysBack` days ago with its notification dropped: we never heard of it. */
  async function missedPayment(buyer: string, daysBack: number): Promise<Order> {
    await sandboxDaysBack(s, daysBack);
    await s.sandbox.faults({ dropNotifications: true });
    const order = await paidOrder(buyer);
    await s.sandbox.faults({ dropNotifications: false });
    await sandboxDaysBack(s, 0);
    return order;
  }
  async function closedOrder(buyer: string): Promise<Order> {
    const order = await grab(s, buyer, goods.id);
    const cancel = await s.app.inject({ method: 'POST', url: `/seckill/orders/${order.orderId}/cancel`, headers: s.buyer(buyer) });
    expect(cancel.statusCode).toBe(202);
    await waitForStatus(s, buyer, order.orderId, 'CLOSED');
    return order;
  }
  /** An order we closed, then created and paid at WeChat behind our back. */
  async function paidAfterClose(buyer: string): Promise<Order> {
    const order = await closedOrder(buyer);
    expect((await outsider.unifiedOrder({ outTradeNo: order.orderId, totalFee: order.money, body: 'late', productId: goods.id, notifyUrl: s.config.wechat.notifyUrl })).kind).toBe('ok');
    expect((await s.sandbox.pay(order.orderId)).status).toBe(200);
    return order;
  }

  const dayOf = (daysBack: number) => beijingDate(new Date(Date.now() - daysBack * DAY_MS));
  const differenceCounter = async (kind: string) => (await s.workerInfra.core.metrics.reconciliationDifferences.get()).values.filter((v) => v.labels.kind === kind).reduce((n, v) => n + v.value, 0);
  const runCounter = async (result: string) => (await s.workerInfra.core.metrics.reconciliationRuns.get()).values.filter((v) => v.labels.result === result).reduce((n, v) => n + v.value, 0);
  const live = (orderId: string) => readLiveOrder(s.infra.core, orderId);

  it('a day with N paid, M closed and K refunded orders reconciles clean; the totals agree', async () => {
    await sandboxDaysBack(s, 2);
    const buyers = ['clean-1', 'clean-2', 'clean-3'];
    const paid = [];
    for (const buyer of buyers) paid.push(await paidOrder(buyer));
    await closedOrder('clean-4');
    await closedOrder('clean-5');
    const refunded = await paidAfterClose('clean-6'); // notified: refunded by the late-payment path
    for (const [i, o] of paid.entries()) await waitForStatus(s, buyers[i]!, o.orderId, 'PAID');
    await eventually(async () => ((await reviews(refunded.orderId))[0]?.refundStatus === 'SUCCESS' ? true : undefined), 20_000, 100);
    await paymentPipelineIdle(s.infra);
    await sandboxDaysBack(s, 0);

    const day = await runDay(s, dayOf(2));
    expect(day).toMatchObject({ status: 'SUCCEEDED', runs: 1, differences: [] });
    expect(day.bill).toEqual({ payments: { count: 4, fee: 2000 }, refunds: { count: 1, fee: 500 } });
    expect(day.ours).toEqual(day.bill);
    // nothing was changed: no review beyond the late payment's own, no refund beyond its one
    expect((await reviews(refunded.orderId)).map((r) => r.kind)).toEqual(['PAID_AFTER_CLOSE']);
    expect((await s.sandbox.ledger()).refunds.filter((r) => r.out_trade_no === refunded.orderId)).toHaveLength(1);
  });

  it('finds each difference, acts on it, and a second run of the day changes nothing', async () => {
    await sandboxDaysBack(s, 3);
    await s.sandbox.faults({ dropNotifications: true });
    const missed = await paidOrder('diff-missed'); // paid at WeChat, its notification dropped
    const late = await paidAfterClose('diff-late'); // paid after we closed it, never notified
    await s.sandbox.faults({ dropNotifications: false });
    const wrong = await paidOrder('diff-amount');
    await waitForStatus(s, 'diff-amount', wrong.orderId, 'PAID');
    const elsewhere = await paidOrder('diff-elsewhere');
    await waitForStatus(s, 'diff-elsewhere', elsewhere.orderId, 'PAID');
    expect((await s.sandbox.control('POST', '/sandbox/refund', { out_trade_no: elsewhere.orderId, out_refund_no: 'MANUAL-1' })).status).toBe(200);
    // a payment WeChat never made: signed as WeChat signs, posted to our notify endpoint
    const phantom = await grab(s, 'diff-phantom', goods.id);
    const answer = await postNotify(s.apiUrl, notificationXml({ outTradeNo: phantom.orderId, totalFee: phantom.money, fields: { time_end: toBeijingTime(new Date(Date.now() - 3 * DAY_MS)) } }));
    expect(answer.returnCode).toBe('SUCCESS');
    await waitForStatus(s, 'diff-phantom', phantom.orderId, 'PAID');
    await paymentPipelineIdle(s.infra);
    await sandboxDaysBack(s, 0);
    await s.sandbox.faults({ billTotalFee: { [wrong.orderId]: wrong.money + 1 } });
    expect((await live(missed.orderId))?.status).toBe('UNPAID');
    const metricBefore = await differenceCounter('MISSED_PAYMENT');

    const day = await runDay(s, dayOf(3));
    expect(day.status).toBe('SUCCEEDED');
    const byOrder = Object.fromEntries(day.differences.map((d) => [d.orderId, d]));
    expect(byOrder[missed.orderId]).toMatchObject({ kind: 'MISSED_PAYMENT', action: 'PAYMENT_APPLIED', billFee: missed.money });
    expect(byOrder[late.orderId]).toMatchObject({ kind: 'PAID_AFTER_CLOSE', action: 'LATE_REFUND' });
    expect(byOrder[wrong.orderId]).toMatchObject({ kind: 'AMOUNT_DIFFERS', action: 'REVIEW', billFee: wrong.money + 1, ourFee: wrong.money });
    expect(byOrder[phantom.orderId]).toMatchObject({ kind: 'NOT_IN_BILL', action: 'REVIEW', ourFee: phantom.money });
    expect(byOrder[elsewhere.orderId]).toMatchObject({ kind: 'UNKNOWN_REFUND', ref: 'MANUAL-1', action: 'REVIEW' });
    expect(day.differences).toHaveLength(5);
    expect(day.bill.payments).toEqual({ count: 4, fee: 4 * 500 + 1 }); // the phantom is not at WeChat
    expect(day.ours.payments).toEqual({ count: 3, fee: 3 * 500 }); // the missed and the late one were not ours yet; the phantom is
    expect(await differenceCounter('MISSED_PAYMENT')).toBe(metricBefore + 1);

    // the missed payment took the payment path: PAID, persisted with its transaction
    expect((await live(missed.orderId))?.status).toBe('PAID');
    await paymentPipelineIdle(s.infra);
    expect(await orderRow(missed.orderId)).toMatchObject({ status: 'PAID', saleCounted: true });
    // the late one was refunded through the late-payment path, once
    await eventually(async () => ((await reviews(late.orderId)).find((r) => r.kind === 'PAID_AFTER_CLOSE')?.refundStatus === 'SUCCESS' ? true : undefined), 20_000, 100);
    expect((await s.sandbox.ledger()).refunds.filter((r) => r.out_trade_no === late.orderId)).toHaveLength(1);
    for (const o of [wrong, phantom, elsewhere]) expect((await reviews(o.orderId)).map((r) => r.kind)).toContain('RECONCILIATION');

    // the same day again: the same report, nothing more done
    const reviewsBefore = await prisma().reviewItem.count();
    const refundsBefore = (await s.sandbox.ledger()).refunds.length;
    const again = await runDay(s, dayOf(3));
    expect(again).toMatchObject({ status: 'SUCCEEDED', runs: 2 });
    expect(again.differences).toEqual(day.differences);
    expect(await prisma().reviewItem.count()).toBe(reviewsBefore);
    expect((await s.sandbox.ledger()).refunds.length).toBe(refundsBefore);
    expect(await differenceCounter('MISSED_PAYMENT')).toBe(metricBefore + 1);
    await s.sandbox.faults({ billTotalFee: {} });

    // a person settles a RECONCILIATION review like any other (the phantom payment: refunded by hand)
    const listed = await s.app.inject({ method: 'GET', url: '/admin/seckill/reviews', headers: s.admin });
    expect(listed.json<{ orderId: string; kind: string }[]>().filter((r) => r.kind === 'RECONCILIATION').map((r) => r.orderId).sort()).toEqual([wrong.orderId, phantom.orderId, elsewhere.orderId].sort());
    const resolved = await s.app.inject({ method: 'POST', url: `/admin/seckill/reviews/${phantom.orderId}/resolve`, headers: s.admin, payload: { outcome: 'REFUNDED' } });
    expect(resolved.statusCode, resolved.body).toBe(200);
    expect((await reviews(phantom.orderId)).find((r) => r.kind === 'RECONCILIATION')).toMatchObject({ status: 'RESOLVED', outcome: 'REFUNDED' });
  });

  it('a bill that cannot be trusted fails the run with the reason and nothing is acted on; WeChat errors are retried', async () => {
    const missed = await missedPayment('bad-missed', 4);
    const failedBefore = await runCounter('failed');

    for (const [tamper, reason] of [['summary-mismatch', /summary-mismatch: 总交易单数 says 2/], ['other-mch-id', /other-merchant/], ['unknown-layout', /unknown-layout/], ['truncated', /truncated/]] as const) {
      await s.sandbox.faults({ billTamper: tamper });
      const day = await runDay(s, dayOf(4));
      expect(day.status, tamper).toBe('FAILED');
      expect(day.failureReason, tamper).toMatch(reason);
      expect(day.differences, tamper).toEqual([]);
      expect((await live(missed.orderId))?.status, tamper).toBe('UNPAID');
    }
    expect(await runCounter('failed')).toBe(failedBefore + 4);
    await s.sandbox.faults({ billTamper: 'none', systemErrorRate: { downloadbill: 1 } });

    // SYSTEMERROR: the run stays RUNNING, saying why, and is retried until WeChat answers
    await requestRun(s, dayOf(4));
    await eventually(async () => ((await report(s, dayOf(4)))?.failureReason?.startsWith('retrying: downloadbill: SYSTEMERROR') ? true : undefined), 10_000, 50);
    expect((await report(s, dayOf(4)))?.status).toBe('RUNNING');
    await s.sandbox.faults({ systemErrorRate: 0 });
    const done = await untilSucceeded(s, dayOf(4), 20_000);
    expect(done.differences).toMatchObject([{ kind: 'MISSED_PAYMENT', orderId: missed.orderId, action: 'PAYMENT_APPLIED' }]);
    expect((await live(missed.orderId))?.status).toBe('PAID');
  });

  it('resumes a run that died between recording a difference and acting on it; the last attempt fails the day', async () => {
    const missed = await missedPayment('resume-missed', 5);
    const tx = String((await s.sandbox.order(missed.orderId)).body.transaction_id);
    // what a process killed right after recording the difference leaves behind
    await prisma().reconciliation.create({ data: { billDate: dayOf(5), status: 'RUNNING', runs: 1, startedAt: new Date() } });
    await prisma().reconciliationDifference.create({ data: { billDate: dayOf(5), kind: 'MISSED_PAYMENT', ref: tx, orderId: missed.orderId, billFee: missed.money, detail: 'recorded, then the process died' } });
    expect((await live(missed.orderId))?.status).toBe('UNPAID');

    const day = await runDay(s, dayOf(5));
    expect(day).toMatchObject({ status: 'SUCCEEDED', runs: 2 });
    expect(day.differences).toMatchObject([{ kind: 'MISSED_PAYMENT', ref: tx, action: 'PAYMENT_APPLIED', outcome: 'payment path: paid', detail: 'recorded, then the process died' }]);
    expect((await live(missed.orderId))?.status).toBe('PAID');

    // WeChat failing on the job's last attempt: FAILED, saying so
    await s.sandbox.faults({ systemErrorRate: { downloadbill: 1 } });
    try {
      expect(await reconcileDay(s.workerInfra.core, dayOf(5), { lastAttempt: true })).toBe('failed');
    } finally {
      await s.sandbox.faults({ systemErrorRate: 0 });
    }
    expect(await report(s, dayOf(5))).toMatchObject({ status: 'FAILED', failureReason: expect.stringMatching(/^gave up after 12 attempts: downloadbill: SYSTEMERROR/) });
  });

  it('review findings: a payment already refunded at WeChat is not applied to an order that still holds its unit; a difference left PENDING after its payment was applied is settled; "No Bill Exist" on a day we have payments fails it', async () => {
    // (1) paid and refunded at WeChat, never notified: our order is still UNPAID
    await sandboxDaysBack(s, 8);
    await s.sandbox.faults({ dropNotifications: true });
    const refunded = await paidOrder('find-refunded');
    await s.sandbox.faults({ dropNotifications: false });
    expect((await s.sandbox.control('POST', '/sandbox/refund', { out_trade_no: refunded.orderId, out_refund_no: 'MANUAL-8' })).status).toBe(200);
    await sandboxDaysBack(s, 0);
    const day8 = await runDay(s, dayOf(8));
    expect(day8.status).toBe('SUCCEEDED');
    expect(day8.differences.find((d) => d.orderId === refunded.orderId && d.kind === 'MISSED_PAYMENT')).toMatchObject({ action: 'REVIEW' });
    // not sold for money the buyer has back; MySQL has no row to attach a review to yet: the report is the record
    expect((await live(refunded.orderId))?.status).toBe('UNPAID');

    // (2) a run applied a missed payment and died before settling its difference; MySQL has it now
    const applied = await missedPayment('find-applied', 9);
    const tx = String((await s.sandbox.order(applied.orderId)).body.transaction_id);
    const timeEnd = String((await s.sandbox.order(applied.orderId)).body.time_end);
    await prisma().reconciliation.create({ data: { billDate: dayOf(9), status: 'RUNNING', runs: 1, startedAt: new Date() } });
    await prisma().reconciliationDifference.create({ data: { billDate: dayOf(9), kind: 'MISSED_PAYMENT', ref: tx, orderId: applied.orderId, billFee: applied.money, detail: 'applied, then the process died' } });
    const notified = await postNotify(s.apiUrl, notificationXml({ outTradeNo: applied.orderId, totalFee: applied.money, transactionId: tx, fields: { time_end: timeEnd } }));
    expect(notified.returnCode).toBe('SUCCESS');
    await waitForStatus(s, 'find-applied', applied.orderId, 'PAID');
    await paymentPipelineIdle(s.infra);
    await eventually(async () => ((await orderRow(applied.orderId))?.status === 'PAID' ? true : undefined), 15_000, 50);
    const day9 = await runDay(s, dayOf(9));
    expect(day9.status).toBe('SUCCEEDED');
    expect(day9.differences).toMatchObject([{ kind: 'MISSED_PAYMENT', ref: tx, action: 'PAYMENT_APPLIED' }]);

    // (3) WeChat says "No Bill Exist" for a day on which we recorded a payment
    const phantom = await grab(s, 'find-nobill', goods.id);
    const answer = await postNotify(s.apiUrl, notificationXml({ outTradeNo: phantom.orderId, totalFee: phantom.money, fields: { time_end: toBeijingTime(new Date(Date.now() - 10 * DAY_MS)) } }));
    expect(answer.returnCode).toBe('SUCCESS');
    await waitForStatus(s, 'find-nobill', phantom.orderId, 'PAID');
    await paymentPipelineIdle(s.infra);
    await eventually(async () => ((await prisma().paymentEvent.count({ where: { orderId: phantom.orderId } })) > 0 ? true : undefined), 15_000, 50);
    const day10 = await runDay(s, dayOf(10));
    expect(day10).toMatchObject({ status: 'FAILED', failureReason: expect.stringMatching(/no bill for .* but we recorded 1 payment/) });
    expect(day10.differences).toEqual([]);
  });

  it('the admin API: 400 for a future day or one older than three months, 404 before the first run, one run of a day at a time', async () => {
    const get = (date: string) => s.app.inject({ method: 'GET', url: `/admin/seckill/reconciliations/${date}`, headers: s.admin });
    const post = (date: string) => s.app.inject({ method: 'POST', url: `/admin/seckill/reconciliations/${date}/run`, headers: s.admin });
    for (const date of [dayOf(0), dayOf(-3), dayOf(100), '20261340', '2026-12-01']) {
      for (const res of [await get(date), await post(date)]) {
        expect(res.statusCode, date).toBe(400);
        expect(res.json(), date).toMatchObject({ code: 'VALIDATION_ERROR', message: expect.stringMatching(/billDate|yyyyMMdd/) });
      }
    }
    expect((await get(dayOf(100))).json().message).toMatch(/older than three months/);
    expect((await get(dayOf(0))).json().message).toMatch(/not a past day/);
    expect((await get(dayOf(20))).statusCode).toBe(404);
    expect((await s.app.inject({ method: 'GET', url: `/admin/seckill/reconciliations/${dayOf(20)}` })).statusCode).toBe(401);

    // the same day asked for twice at once: one run
    await s.sandbox.faults({ delayMs: { downloadbill: 400 } });
    try {
      const answers = await Promise.all([post(dayOf(21)), post(dayOf(21))]);
      expect(answers.map((a) => a.statusCode)).toEqual([202, 202]);
      expect(answers.map((a) => a.json<{ state: string }>().state).sort()).toEqual(expect.arrayContaining(['QUEUED']));
      expect(answers.filter((a) => a.json<{ state: string }>().state === 'QUEUED')).toHaveLength(1);
      const view = await untilSucceeded(s, dayOf(21), 10_000, 50);
      expect(view).toMatchObject({ runs: 1, bill: { payments: { count: 0, fee: 0 } } }); // "No Bill Exist": an empty day
    } finally {
      await s.sandbox.faults({ delayMs: 0 });
    }
  });

  it('the daily job: a scheduler at RECONCILIATION_AT Beijing time queues yesterday', async () => {
    const queue = s.workerInfra.core.queues.byName.reconciliation;
    const scheduler = await queue.getJobScheduler('reconciliation');
    expect(scheduler).toMatchObject({ pattern: '0 15 11 * * *', tz: 'Asia/Shanghai' });
    expect(toBeijingTime(new Date(Number(scheduler?.next))).slice(8, 12)).toBe('1115');
    expect(await queueYesterday(s.workerInfra.core)).toBe(yesterday());
    const job = await queue.getJob(`reconcile-${yesterday()}`);
    expect(job?.name).toBe('reconcile-day');
  });
});
