import { randomInt } from 'node:crypto';
import type { Connection } from 'rabbitmq-client';
import { request } from 'undici';
import { expect } from 'vitest';
import type { Infra } from '../../src/infra/context.js';
import { readOutboxLag } from '../../src/domain/outbox/outbox-lag.js';
import { nonceStr, signFields } from '../../src/infra/wechat/sign.js';
import { toBeijingTime } from '../../src/infra/wechat/time.js';
import { buildXml, parseWeChatXml } from '../../src/infra/wechat/xml.js';
import { eventually, TEST_MERCHANT } from '../../src/sandbox/testing.js';
import type { TestContext } from '../helpers/app.js';

/** Shared steps of the payment tests (test/payments/*.test.ts), all through the public API. */

export interface Goods {
  id: string;
  price: number;
  stockCount: number;
}

export interface Order {
  orderId: string;
  goodsId: string;
  money: number;
  status: string;
  createTime: string;
  deadline: string;
  payTime?: string;
  closeReason?: string;
}

export async function createGoods(s: TestContext, price: number, stockCount: number, title = 'payments'): Promise<Goods> {
  const res = await s.app.inject({
    method: 'POST',
    url: '/admin/seckill/goods',
    headers: s.admin,
    payload: { title, price, stockCount, startTime: new Date(Date.now() - 60_000).toISOString(), endTime: new Date(Date.now() + 3_600_000).toISOString() },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

export async function grab(s: TestContext, buyer: string, goodsId: string): Promise<Order> {
  const res = await s.app.inject({ method: 'POST', url: '/seckill/orders', headers: s.buyer(buyer), payload: { goodsId } });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

export async function pay(s: TestContext, buyer: string, orderId: string) {
  return s.app.inject({ method: 'POST', url: `/seckill/orders/${orderId}/pay`, headers: s.buyer(buyer) });
}

export async function getOrder(s: TestContext, buyer: string, orderId: string): Promise<Order> {
  const res = await s.app.inject({ method: 'GET', url: `/seckill/orders/${orderId}`, headers: s.buyer(buyer) });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

export async function waitForStatus(s: TestContext, buyer: string, orderId: string, status: string, timeoutMs = 15_000): Promise<Order> {
  return eventually(async () => {
    const order = await getOrder(s, buyer, orderId);
    return order.status === status ? order : undefined;
  }, timeoutMs, 25);
}

/** `stockCount` (durable, MySQL) and `available` (live, Redis) of a goods. */
export async function stock(s: TestContext, goodsId: string): Promise<{ stockCount: number; available: number }> {
  const res = await s.app.inject({ method: 'GET', url: `/admin/seckill/goods/${goodsId}`, headers: s.admin });
  expect(res.statusCode, res.body).toBe(200);
  const { stockCount, available } = res.json<{ stockCount: number; available: number }>();
  return { stockCount, available };
}

/** 28 digits, like WeChat's transaction_id. */
export function transactionId(): string {
  return `4200000${String(randomInt(1e7)).padStart(7, '0')}${String(randomInt(1e7)).padStart(7, '0')}${String(randomInt(1e7)).padStart(7, '0')}`;
}

export interface NotificationInput {
  outTradeNo: string;
  totalFee: number;
  transactionId?: string;
  /** merchant key used to sign; default the test merchant's (authentic) */
  key?: string;
  /** extra or replacing fields, applied before signing */
  fields?: Record<string, string>;
  /** leave `sign` out */
  unsigned?: boolean;
}

/** The fields of a WeChat payment notification, signed (MD5) as WeChat signs them. */
export function notificationFields(n: NotificationInput): Record<string, string> {
  const fee = String(n.totalFee);
  const fields: Record<string, string> = {
    appid: TEST_MERCHANT.appId,
    bank_type: 'CFT',
    cash_fee: fee,
    fee_type: 'CNY',
    is_subscribe: 'N',
    mch_id: TEST_MERCHANT.mchId,
    nonce_str: nonceStr(),
    openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
    out_trade_no: n.outTradeNo,
    result_code: 'SUCCESS',
    return_code: 'SUCCESS',
    time_end: toBeijingTime(new Date()),
    total_fee: fee,
    trade_type: 'NATIVE',
    transaction_id: n.transactionId ?? transactionId(),
    ...n.fields,
  };
  if (!n.unsigned) fields.sign = signFields(fields, n.key ?? TEST_MERCHANT.apiKey, 'MD5');
  return fields;
}

export const notificationXml = (n: NotificationInput) => buildXml(notificationFields(n));

export interface NotifyAnswer {
  status: number;
  contentType: string;
  returnCode: string | undefined;
  returnMsg: string | undefined;
  text: string;
}

/** POST a body to the notify endpoint over real HTTP, as WeChat does. */
export async function postNotify(apiUrl: string, body: string | Buffer, contentType = 'text/xml'): Promise<NotifyAnswer> {
  const res = await request(`${apiUrl}/pay/wechat/notify`, { method: 'POST', headers: { 'content-type': contentType }, body });
  const text = await res.body.text();
  let reply: Record<string, string> = {};
  try {
    reply = parseWeChatXml(text);
  } catch {
    // not XML: the assertions on returnCode will say so
  }
  return { status: res.statusCode, contentType: String(res.headers['content-type'] ?? ''), returnCode: reply.return_code, returnMsg: reply.return_msg, text };
}

/** Messages ready in a queue (passive declare: never creates it). */
export async function queueDepth(amqp: Connection, queue: string): Promise<number> {
  const ch = await amqp.acquire();
  try {
    return (await ch.queueDeclare({ queue, passive: true })).messageCount;
  } finally {
    await ch.close().catch(() => undefined);
  }
}

/** Declare the payment topology as any consumer would, so a message published by mistake stays visible. */
export async function declarePaymentTopology(infra: Infra): Promise<void> {
  const names = infra.config.amqp;
  const ch = await infra.amqp.acquire();
  try {
    await ch.exchangeDeclare({ exchange: names.exchange, type: 'direct', durable: true });
    await ch.queueDeclare({ queue: names.queue, durable: true });
    await ch.queueDeclare({ queue: names.deadLetterQueue, durable: true });
    await ch.queueBind({ exchange: names.exchange, queue: names.queue, routingKey: names.routingKey });
  } finally {
    await ch.close().catch(() => undefined);
  }
}

/**
 * Publish a raw message to the test's exchange with its routing key, as the original Java
 * payment service does (`convertAndSend(exchange, routingKey, JSON.toJSONString(map))`: a
 * persistent text message), with a publisher confirm.
 */
export async function publishRaw(amqp: Connection, infra: Infra, body: string | Buffer, contentType = 'text/plain'): Promise<void> {
  const names = infra.config.amqp;
  const publisher = amqp.createPublisher({ confirm: true });
  try {
    await publisher.send({ exchange: names.exchange, routingKey: names.routingKey, durable: true, contentType }, Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'));
  } finally {
    await publisher.close();
  }
}

/** The value of one Prometheus sample in a registry text (0 when absent). */
export function sample(metricsText: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of metricsText.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelText = line.slice(name.length).split(' ')[0] ?? '';
    if (wanted.every((w) => labelText.includes(w))) return Number(line.split(' ').at(-1));
  }
  return 0;
}

export async function apiMetrics(s: TestContext): Promise<string> {
  const res = await s.app.inject({ method: 'GET', url: '/metrics' });
  expect(res.statusCode).toBe(200);
  return res.body;
}

/** Jobs of a BullMQ queue in any state (0 means nothing was ever stored there, or all were removed). */
export async function jobCount(infra: Infra, queue: 'payment-result' | 'order-timeout'): Promise<number> {
  const counts = await infra.core.queues.byName[queue].getJobCounts();
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

/**
 * Wait until the payment pipeline is idle: no message ready in RabbitMQ, no payment job pending
 * and every outbox drained to MySQL, seen three times in a row (a message the bridge holds
 * unacked is in neither count for a moment).
 */
export async function paymentPipelineIdle(infra: Infra, timeoutMs = 15_000): Promise<void> {
  let quiet = 0;
  await eventually(async () => {
    const [depth, counts, lag] = await Promise.all([
      queueDepth(infra.amqp, infra.config.amqp.queue),
      infra.core.queues.byName['payment-result'].getJobCounts('waiting', 'active', 'delayed', 'prioritized'),
      readOutboxLag(infra.core),
    ]);
    quiet = depth === 0 && Object.values(counts).every((n) => n === 0) && lag.depth === 0 ? quiet + 1 : 0;
    return quiet >= 3 ? true : undefined;
  }, timeoutMs, 100);
}
