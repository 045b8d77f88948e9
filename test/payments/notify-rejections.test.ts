import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobId } from '../../src/infra/queues/catalogue.js';
import { buildXml } from '../../src/infra/wechat/xml.js';
import { eventually } from '../../src/sandbox/testing.js';
import { type TestSystem, createTestSystem } from '../helpers/system.js';
import { paymentJobsOf, persistNow } from '../worker/support.js';
import {
  type Goods,
  type Order,
  apiMetrics,
  createGoods,
  declarePaymentTopology,
  getOrder,
  grab,
  jobCount,
  notificationFields,
  notificationXml,
  pay,
  paymentPipelineIdle,
  postNotify,
  publishRaw,
  queueDepth,
  sample,
  stock,
  transactionId,
  waitForStatus,
} from './support.js';

const OTHER_KEY = 'ffffffffffffffffffffffffffffffff';

/**
 * Bad payment notifications change nothing, on both ways in: the notify endpoint (refused with
 * WeChat's XML FAIL and a 4xx, nothing published) and RabbitMQ straight from another service
 * (dead-lettered by the bridge). A wrong amount, authentic but not the order's, is refused too
 * and leaves the order for a person (NEEDS_REVIEW, AMOUNT_MISMATCH).
 */
describe('bad payment notifications', () => {
  let s: TestSystem;
  let goods: Goods;
  let order: Order;

  beforeAll(async () => {
    // no workers at first: anything the API published by mistake would stay in the queue
    s = await createTestSystem({ workers: false, env: { ORDER_TIMEOUT_MS: '120000' } });
    await declarePaymentTopology(s.infra);
    goods = await createGoods(s, 500, 10);
    order = await grab(s, 'bad-a', goods.id);
    expect((await pay(s, 'bad-a', order.orderId)).statusCode).toBe(200);
  });
  afterAll(async () => s?.close());

  const depth = (queue = s.config.amqp.queue) => queueDepth(s.infra.amqp, queue);
  const unchanged = async (o: Order, buyer: string, before: { stockCount: number; available: number }) => {
    expect(await getOrder(s, buyer, o.orderId)).toEqual(o);
    expect(await stock(s, goods.id)).toEqual(before);
    expect(await s.infra.core.prisma.seckillOrder.count({ where: { id: o.orderId } })).toBe(0);
    expect(await s.infra.core.prisma.paymentEvent.count({ where: { orderId: o.orderId } })).toBe(0);
  };

  describe('on the notify endpoint (HTTP)', () => {
    it('refuses forged, unsigned, other-merchant, DOCTYPE, oversized and malformed bodies with XML FAIL and a 4xx, publishing nothing', async () => {
      const before = await stock(s, goods.id);
      const invalidBefore = sample(await apiMetrics(s), 'seckill_wechat_notifications_total', { result: 'invalid' });
      const authentic = { outTradeNo: order.orderId, totalFee: order.money };
      const valid = notificationXml(authentic);
      const cases: [string, string | Buffer, number, RegExp, string?][] = [
        ['forged (signed with another key)', notificationXml({ ...authentic, key: OTHER_KEY }), 400, /signature/],
        ['signature of other fields (amount edited after signing)', valid.replace(`<total_fee>${order.money}</total_fee>`, '<total_fee>1</total_fee>'), 400, /signature/],
        ['unsigned', notificationXml({ ...authentic, unsigned: true }), 400, /unsigned/],
        ['other appid (validly signed)', notificationXml({ ...authentic, fields: { appid: 'wx0000000000000000' } }), 400, /appid/],
        ['other mch_id (validly signed)', notificationXml({ ...authentic, fields: { mch_id: '1999999999' } }), 400, /mch_id/],
        ['sign_type chosen by the message', notificationXml({ ...authentic, fields: { sign_type: 'HMAC-SHA256' } }), 400, /sign_type/],
        ['DOCTYPE with an external entity', `<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>${valid.replace('<bank_type>', '<attach>&xxe;</attach><bank_type>')}`, 400, /doctype/],
        ['ENTITY declaration without DOCTYPE', `<!ENTITY a "b">${valid}`, 400, /doctype|XML/],
        ['oversized (70 KiB)', valid.replace('</xml>', `<attach>${'a'.repeat(70 * 1024)}</attach></xml>`), 413, /too large/],
        ['malformed XML (unclosed tag)', '<xml><return_code>SUCCESS</return_code><out_trade_no>1', 400, /XML/],
        ['two roots', `${valid}${valid}`, 400, /XML/],
        ['nested element', valid.replace('<bank_type>', '<detail><x>1</x></detail><bank_type>'), 400, /XML/],
        ['JSON instead of XML', JSON.stringify(notificationFields(authentic)), 400, /XML/, 'application/json'],
        ['not UTF-8', Buffer.from([0x3c, 0x78, 0x6d, 0x6c, 0x3e, 0xff, 0xfe, 0x3c, 0x2f, 0x78, 0x6d, 0x6c, 0x3e]), 400, /XML/],
        ['empty body', '', 400, /empty/],
      ];
      for (const [name, body, status, reason, contentType] of cases) {
        const answer = await postNotify(s.apiUrl, body, contentType);
        expect(answer.status, `${name}: ${answer.text.slice(0, 200)}`).toBe(status);
        expect(answer.contentType, name).toMatch(/^text\/xml/);
        expect(answer.returnCode, name).toBe('FAIL');
        expect(answer.returnMsg, name).toMatch(reason);
      }
      expect(sample(await apiMetrics(s), 'seckill_wechat_notifications_total', { result: 'invalid' })).toBe(invalidBefore + cases.length);
      expect(await depth()).toBe(0);
      expect(await jobCount(s.infra, 'payment-result')).toBe(0);
      await unchanged(order, 'bad-a', before);
    });

    it('records an authentic notification whose total_fee is not the order amount (NEEDS_REVIEW, AMOUNT_MISMATCH, nothing paid) once, and acknowledges every copy', async () => {
      const wrong = await grab(s, 'bad-amount', goods.id);
      expect((await pay(s, 'bad-amount', wrong.orderId)).statusCode).toBe(200);
      const before = await stock(s, goods.id);
      const mismatches = () => apiMetrics(s).then((text) => sample(text, 'seckill_wechat_notifications_total', { result: 'amount-mismatch' }));
      const counted = await mismatches();

      // cash_fee may be lower than total_fee (coupons); total_fee is what must match. WeChat
      // sends copies of one notification at once, and would retry a FAIL for 24 h: the review is
      // stored, then every copy is answered SUCCESS.
      const transaction = transactionId();
      const send = () => postNotify(s.apiUrl, notificationXml({ outTradeNo: wrong.orderId, totalFee: wrong.money - 1, transactionId: transaction }));
      const answers = [...(await Promise.all(Array.from({ length: 5 }, send))), await send()];
      for (const answer of answers) {
        expect(answer.status, answer.text).toBe(200);
        expect(answer.returnCode).toBe('SUCCESS');
      }
      expect(await mismatches()).toBe(counted + answers.length);
      expect(await depth()).toBe(0);
      expect(await jobCount(s.infra, 'payment-result')).toBe(0);

      expect((await getOrder(s, 'bad-amount', wrong.orderId)).status).toBe('NEEDS_REVIEW');
      await persistNow(s.infra, goods.id); // no workers in this test: persist in-process
      const row = await s.infra.core.prisma.seckillOrder.findUnique({ where: { id: wrong.orderId } });
      expect(row).toMatchObject({ status: 'NEEDS_REVIEW', payTime: null, transactionId: null });
      const items = await s.infra.core.prisma.reviewItem.findMany({ where: { orderId: wrong.orderId } });
      expect(items.map((i) => [i.kind, i.status])).toEqual([['AMOUNT_MISMATCH', 'OPEN']]);
      // the wrong payment itself is kept for the refund, once
      const events = await s.infra.core.prisma.paymentEvent.findMany({ where: { orderId: wrong.orderId } });
      expect(events.map((e) => [e.transactionId, e.totalFee])).toEqual([[transaction, wrong.money - 1]]);
      expect(await s.infra.core.redis.hget(s.infra.core.keys.forGoods(goods.id).order(wrong.orderId), 'outboxVersion')).toBe('1');
      // the unit stays held for the person deciding: neither sold nor back on sale
      expect(await stock(s, goods.id)).toEqual(before);
      expect(await s.infra.core.redis.zscore(s.infra.core.keys.forGoods(goods.id).held, wrong.orderId)).toBe('inf');
      expect(await s.infra.core.queues.byName['order-timeout'].getJob(jobId.closeOrder(wrong.orderId))).toBeUndefined();
    });
  });

  describe('straight on RabbitMQ (another service publishing, as the original system does)', () => {
    beforeAll(async () => {
      await s.startWorkers();
    });

    const deadLetters = () => depth(s.config.amqp.deadLetterQueue);

    it('dead-letters forged, unsigned, other-merchant, malformed and non-JSON messages; nothing changes', async () => {
      const target = await grab(s, 'amqp-bad', goods.id);
      const before = await stock(s, goods.id);
      const authentic = { outTradeNo: target.orderId, totalFee: target.money };
      const messages: [string, string][] = [
        ['forged', JSON.stringify(notificationFields({ ...authentic, key: OTHER_KEY }))],
        ['unsigned', JSON.stringify(notificationFields({ ...authentic, unsigned: true }))],
        ['other appid', JSON.stringify(notificationFields({ ...authentic, fields: { appid: 'wx0000000000000000' } }))],
        ['amount edited after signing', JSON.stringify({ ...notificationFields(authentic), total_fee: '1' })],
        ['not JSON', '<xml><return_code>SUCCESS</return_code></xml>'],
        ['truncated JSON', JSON.stringify(notificationFields(authentic)).slice(0, 60)],
        ['a JSON array', JSON.stringify([notificationFields(authentic)])],
        ['a nested value', JSON.stringify({ ...notificationFields(authentic), detail: { a: 1 } })],
      ];
      const dlqBefore = await deadLetters();
      for (const [, body] of messages) await publishRaw(s.infra.amqp, s.infra, body);
      // a JSON-typed message that does not parse is rejected the same way
      await publishRaw(s.infra.amqp, s.infra, '{"out_trade_no":', 'application/json');
      const expected = messages.length + 1;

      await eventually(async () => ((await deadLetters()) === dlqBefore + expected ? true : undefined), 15_000, 50);
      await paymentPipelineIdle(s.infra);
      const reasons: string[] = [];
      for (let i = 0; i < expected; i += 1) {
        const msg = await s.infra.amqp.basicGet({ queue: s.config.amqp.deadLetterQueue, noAck: true });
        expect(msg, `dead letter ${i}`).toBeDefined();
        expect(msg?.headers?.['x-original-queue']).toBe(s.config.amqp.queue);
        reasons.push(String(msg?.headers?.['x-rejection-reason']));
      }
      expect(reasons).toEqual(
        expect.arrayContaining([expect.stringMatching(/signature/), expect.stringMatching(/unsigned/), expect.stringMatching(/appid/), expect.stringMatching(/not JSON/), expect.stringMatching(/not a JSON object/), expect.stringMatching(/not a string/)]),
      );
      const bridgeMetrics = await s.workerInfra.core.metrics.registry.metrics();
      expect(sample(bridgeMetrics, 'seckill_bridge_events_total', { result: 'dead-lettered' })).toBe(expected);
      expect(await paymentJobsOf(s.infra, target.orderId)).toEqual([]);
      await unchanged(target, 'amqp-bad', before);
    });

    it('handles a valid message in the original format exactly like a notification over HTTP', async () => {
      const target = await grab(s, 'amqp-good', goods.id);
      const before = await stock(s, goods.id);
      const fields = notificationFields({ outTradeNo: target.orderId, totalFee: target.money });
      // the original service sends JSON text; some publishers send total_fee as a bare number
      await publishRaw(s.infra.amqp, s.infra, JSON.stringify({ ...fields, total_fee: Number(fields.total_fee) }));
      await waitForStatus(s, 'amqp-good', target.orderId, 'PAID');
      const row = await eventually(() => s.infra.core.prisma.seckillOrder.findFirst({ where: { id: target.orderId, status: 'PAID' } }).then((r) => r ?? undefined), 15_000, 25);
      expect(row.transactionId).toBe(fields.transaction_id);
      expect(await s.infra.core.prisma.paymentEvent.count({ where: { orderId: target.orderId } })).toBe(1);
      await paymentPipelineIdle(s.infra);
      expect(await stock(s, goods.id)).toEqual({ stockCount: before.stockCount - 1, available: before.available });
      expect(await s.infra.core.queues.byName['order-timeout'].getJob(jobId.closeOrder(target.orderId))).toBeUndefined();
      // the buyer may grab again
      await grab(s, 'amqp-good', goods.id);
    });

    it('sends an authentic wrong-amount event from RabbitMQ to review, not to the dead-letter queue', async () => {
      const target = await grab(s, 'amqp-amount', goods.id);
      const before = await stock(s, goods.id);
      const dlqBefore = await deadLetters();
      await publishRaw(s.infra.amqp, s.infra, JSON.stringify(notificationFields({ outTradeNo: target.orderId, totalFee: target.money + 100 })));
      await waitForStatus(s, 'amqp-amount', target.orderId, 'NEEDS_REVIEW');
      const item = await eventually(() => s.infra.core.prisma.reviewItem.findFirst({ where: { orderId: target.orderId } }).then((r) => r ?? undefined), 15_000, 25);
      expect(item.kind).toBe('AMOUNT_MISMATCH');
      await paymentPipelineIdle(s.infra);
      expect(await deadLetters()).toBe(dlqBefore);
      expect(await stock(s, goods.id)).toEqual(before);
    });

    it('keeps the notify endpoint strict while the bridge runs: still nothing published for a bad body', async () => {
      const stored = () => s.workerInfra.core.metrics.registry.metrics().then((t) => sample(t, 'seckill_bridge_events_total', { result: 'stored' }));
      const storedBefore = await stored();
      const answer = await postNotify(s.apiUrl, buildXml({ ...notificationFields({ outTradeNo: order.orderId, totalFee: order.money }), sign: 'A'.repeat(32) }));
      expect(answer.status).toBe(400);
      await paymentPipelineIdle(s.infra);
      expect(await stored()).toBe(storedBefore);
      expect((await getOrder(s, 'bad-a', order.orderId)).status).toBe('UNPAID');
    });
  });
});
