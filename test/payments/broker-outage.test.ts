import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/env.js';
import { type Infra, createInfra, waitForRedis } from '../../src/infra/context.js';
import { eventually } from '../../src/sandbox/testing.js';
import { type PaymentBridge, startPaymentBridge } from '../../src/workers/payment-bridge.js';
import { type WorkerRuntime, startWorkers } from '../../src/workers/runtime.js';
import { silentLogger } from '../helpers/app.js';
import { RabbitMqNode, TcpProxy } from '../helpers/rabbitmq-node.js';
import { type TestSystem, createTestSystem } from '../helpers/system.js';
import {
  type Goods,
  type Order,
  apiMetrics,
  createGoods,
  grab,
  notificationFields,
  pay,
  paymentPipelineIdle,
  publishRaw,
  queueDepth,
  sample,
  stock,
  waitForStatus,
} from './support.js';

/**
 * RabbitMQ going away, on a private node this file starts, stops and restarts (the machine's
 * shared broker is never touched). The API talks to the node directly; the worker (BullMQ
 * workers + bridge) through a loopback TCP proxy, so the bridge can also be cut off alone while
 * the broker is up.
 */
describe('RabbitMQ outages', () => {
  let node: RabbitMqNode;
  let proxy: TcpProxy;
  let s: TestSystem;
  let workerInfra: Infra;
  let runtime: WorkerRuntime;
  let bridge: PaymentBridge;
  let goods: Goods;

  beforeAll(async () => {
    node = await RabbitMqNode.start();
    proxy = await TcpProxy.start(node.port);
    // No payment lookups (orderquery 60 s after /pay): on a slow machine one would find these
    // orders paid at WeChat and settle them around the bus, which is what this file tests.
    s = await createTestSystem({ workers: false, env: { AMQP_URL: node.url, ORDER_TIMEOUT_MS: '120000', AMQP_PUBLISH_TIMEOUT_MS: '1000', PAYMENT_LOOKUP_AFTER_MS: '3600000' } });
    workerInfra = createInfra(loadConfig({ ...s.env, AMQP_URL: proxy.url() }), silentLogger, 'worker');
    await waitForRedis(workerInfra.core.redis, workerInfra.config.redisUrl);
    runtime = await startWorkers(workerInfra, { sweeper: false });
    bridge = startPaymentBridge(workerInfra);
    goods = await createGoods(s, 300, 100, 'outage');
  }, 120_000);

  afterAll(async () => {
    await bridge?.close().catch(() => undefined);
    await runtime?.close().catch(() => undefined);
    await workerInfra?.close().catch(() => undefined);
    await s?.close().catch(() => undefined);
    await proxy?.close().catch(() => undefined);
    await node?.destroy();
  }, 120_000);

  const newOrders = async (prefix: string, n: number): Promise<Order[]> => {
    const orders: Order[] = [];
    for (let i = 0; i < n; i += 1) {
      const order = await grab(s, `${prefix}-${i}`, goods.id);
      expect((await pay(s, `${prefix}-${i}`, order.orderId)).statusCode).toBe(200);
      orders.push(order);
    }
    return orders;
  };
  const deliveries = async (orderId: string) => (await s.sandbox.ledger()).notifications.filter((n) => n.out_trade_no === orderId);
  const eventsOf = (orderIds: string[]) => s.infra.core.prisma.paymentEvent.groupBy({ by: ['orderId'], where: { orderId: { in: orderIds } }, _count: true });

  it('answers FAIL (HTTP 503) while RabbitMQ is down; WeChat’s retry after it is back is accepted and the order paid', { timeout: 120_000 }, async () => {
    const [order] = await newOrders('down', 1);
    if (!order) throw new Error('no order');
    const before = await stock(s, goods.id);
    const failedBefore = sample(await apiMetrics(s), 'seckill_wechat_notifications_total', { result: 'publish-failed' });

    await node.stop();
    expect((await s.sandbox.pay(order.orderId)).status).toBe(200);
    const refused = await eventually(async () => {
      const copies = await deliveries(order.orderId);
      return copies.length >= 2 ? copies : undefined;
    }, 30_000, 100);
    for (const copy of refused) {
      expect(copy).toMatchObject({ http_status: 503, outcome: 'FAIL' });
      expect(copy.detail).toContain('FAIL');
    }
    expect(sample(await apiMetrics(s), 'seckill_wechat_notifications_total', { result: 'publish-failed' })).toBeGreaterThanOrEqual(failedBefore + 2);
    const ready = await s.app.inject({ method: 'GET', url: '/ready' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json().checks.rabbitmq).toMatch(/down/);
    expect((await s.sandbox.order(order.orderId)).body.notification).toBe('pending');

    await node.start();
    await waitForStatus(s, 'down-0', order.orderId, 'PAID', 60_000);
    const copies = await eventually(async () => {
      const all = await deliveries(order.orderId);
      return all.at(-1)?.outcome === 'SUCCESS' ? all : undefined;
    }, 60_000, 100);
    // FAIL … FAIL, then WeChat's retry on its (time-scaled) schedule is accepted
    expect(copies.slice(0, -1).every((c) => c.outcome !== 'SUCCESS')).toBe(true);
    expect(copies.at(-1)).toMatchObject({ kind: 'retry', http_status: 200, outcome: 'SUCCESS' });
    expect((await s.sandbox.order(order.orderId)).body.notification).toBe('delivered');

    await paymentPipelineIdle(workerInfra, 30_000);
    const row = await s.infra.core.prisma.seckillOrder.findUnique({ where: { id: order.orderId } });
    expect(row?.status).toBe('PAID');
    expect(await eventsOf([order.orderId])).toEqual([{ orderId: order.orderId, _count: 1 }]);
    expect(await stock(s, goods.id)).toEqual({ stockCount: before.stockCount - 1, available: before.available });
  });

  it('keeps the bridge through a broker restart: events published while it is cut off are consumed after it reconnects, once', { timeout: 360_000 }, async () => {
    // 1. the bridge works through the proxy
    const baseline = await newOrders('base', 3);
    for (const o of baseline) expect((await s.sandbox.pay(o.orderId)).status).toBe(200);
    for (const [i, o] of baseline.entries()) await waitForStatus(s, `base-${i}`, o.orderId, 'PAID', 30_000);
    await paymentPipelineIdle(workerInfra, 30_000);
    const before = await stock(s, goods.id);
    const viaWeChat = await newOrders('cut', 8);
    const viaBus = await newOrders('bus', 4);

    // 2. the bridge loses the broker, and the broker restarts
    proxy.block();
    await node.stop();
    await node.start();
    // (a broker restart on a saturated 2-core CI machine can take most of a minute)
    await eventually(() => (s.infra.amqp.ready ? true : undefined), 90_000, 100);
    expect(workerInfra.amqp.ready).toBe(false);

    // 3. payments arrive while the bridge is cut off: from WeChat through the API, and straight
    //    on the bus from another service (the original system's format)
    for (const o of viaWeChat) expect((await s.sandbox.pay(o.orderId)).status).toBe(200);
    for (const o of viaBus) await publishRaw(s.infra.amqp, s.infra, JSON.stringify(notificationFields({ outTradeNo: o.orderId, totalFee: o.money })));
    await eventually(async () => {
      const ledger = await s.sandbox.ledger();
      const delivered = new Set(ledger.notifications.filter((n) => n.outcome === 'SUCCESS').map((n) => n.out_trade_no));
      return viaWeChat.every((o) => delivered.has(o.orderId)) ? true : undefined;
    }, 60_000, 100);
    const waiting = await queueDepth(s.infra.amqp, s.config.amqp.queue);
    expect(waiting).toBeGreaterThanOrEqual(viaWeChat.length + viaBus.length);

    // 4. a second restart with the events still waiting: durable queue, persistent messages
    await node.stop();
    await node.start();
    // (a broker restart on a saturated 2-core CI machine can take most of a minute)
    await eventually(() => (s.infra.amqp.ready ? true : undefined), 90_000, 100);
    expect(await queueDepth(s.infra.amqp, s.config.amqp.queue)).toBe(waiting);
    // nothing applied yet (read from Redis: a buyer's GET would look a paid order up at WeChat itself)
    const k = s.infra.core.keys.forGoods(goods.id);
    for (const o of [...viaWeChat, ...viaBus]) expect(await s.infra.core.redis.hget(k.order(o.orderId), 'status')).toBe('UNPAID');

    // 5. the same bridge reconnects by itself and drains the queue
    proxy.restore();
    for (const [prefix, list] of [['cut', viaWeChat], ['bus', viaBus]] as const) {
      for (const [i, o] of list.entries()) await waitForStatus(s, `${prefix}-${i}`, o.orderId, 'PAID', 60_000);
    }
    await paymentPipelineIdle(workerInfra, 30_000);
    expect(workerInfra.amqp.ready).toBe(true);

    const all = [...viaWeChat, ...viaBus].map((o) => o.orderId);
    expect(await s.infra.core.prisma.seckillOrder.count({ where: { id: { in: all }, status: 'PAID' } })).toBe(all.length);
    const events = await eventsOf(all);
    expect(events).toHaveLength(all.length);
    expect(events.every((e) => e._count === 1)).toBe(true);
    // taken before the grabs: each unit left `available` when grabbed and `stockCount` when paid
    expect(await stock(s, goods.id)).toEqual({ stockCount: before.stockCount - all.length, available: before.available - all.length });
    expect(await queueDepth(s.infra.amqp, s.config.amqp.deadLetterQueue)).toBe(0);
    expect(await queueDepth(s.infra.amqp, s.config.amqp.queue)).toBe(0);
  });
});
