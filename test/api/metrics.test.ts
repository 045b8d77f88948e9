import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../src/sandbox/testing.js';
import { registerBacklogGauges } from '../../src/workers/backlog-gauges.js';
import { pumpTimers } from '../../src/workers/timer-pump.js';
import { type TestContext, createTestContext } from '../helpers/app.js';
import { freePort } from '../helpers/redis-server.js';
import { sample } from '../payments/support.js';
import { type WorkerChild, killChild, spawnWorker } from '../worker/support.js';

/**
 * Each process serves its own metrics under one prefix: the API's at /metrics, a worker's on
 * WORKER_METRICS_PORT with the backlog gauges read at scrape time; docs/metrics.md lists them all.
 */
const API_METRICS = [
  'seckill_http_request_duration_seconds',
  'seckill_orders_reserved_total',
  'seckill_grab_rejected_total',
  'seckill_wechat_notifications_total',
  'seckill_orders_paid_total',
  'seckill_orders_review_total',
  'seckill_wechat_calls_total',
];
const WORKER_METRICS = [
  'seckill_orders_paid_total',
  'seckill_orders_review_total',
  'seckill_wechat_calls_total',
  'seckill_orders_closed_total',
  'seckill_bridge_events_total',
  'seckill_close_lateness_seconds',
  'seckill_stock_drift_units',
  'seckill_stock_drift_detected_total',
  'seckill_sweeper_rescheduled_total',
  'seckill_goods_retired_total',
  'seckill_outbox_depth',
  'seckill_outbox_oldest_age_seconds',
  'seckill_outbox_depth_total',
  'seckill_outbox_oldest_age_total_seconds',
  'seckill_orders_persisted_total',
  'seckill_persister_batches_total',
  'seckill_outbox_set_aside_total',
  'seckill_reconciliation_runs_total',
  'seckill_reconciliation_differences_total',
  'seckill_reconciliation_last_success_timestamp_seconds',
  'seckill_queue_jobs',
  'seckill_timer_requests_queued',
  'seckill_reviews_open',
  'seckill_backlog_read_errors_total',
];
/** prom-client's process and Node.js metrics, under our prefix once */
const isDefault = (name: string) => /^seckill_(process|nodejs)_/.test(name);

const names = (text: string) => [...text.matchAll(/^# TYPE (\S+) \S+$/gm)].map((m) => m[1]!);
const own = (text: string) => names(text).filter((name) => !isDefault(name)).sort();

let t: TestContext;
let worker: WorkerChild | undefined;
const hour = 3_600_000;

beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await killChild(worker);
  await t?.close();
});

async function createGoods(stockCount: number): Promise<string> {
  const res = await t.app.inject({
    method: 'POST',
    url: '/admin/seckill/goods',
    headers: t.admin,
    payload: { title: 'metrics', price: 100, stockCount, startTime: new Date(Date.now() - hour).toISOString(), endTime: new Date(Date.now() + hour).toISOString() },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().id;
}

describe('the API /metrics', () => {
  let text: string;
  beforeAll(async () => {
    await t.app.inject({ method: 'GET', url: '/seckill/goods' });
    await t.app.inject({ method: 'GET', url: '/seckill/goods/987654321' });
    const res = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    text = res.body;
  });

  it("has the API's metrics and none of the workers'", () => {
    expect(own(text)).toEqual([...API_METRICS].sort());
  });

  it('prefixes the process metrics once', () => {
    expect(names(text)).toEqual(expect.arrayContaining(['seckill_process_cpu_seconds_total', 'seckill_process_resident_memory_bytes', 'seckill_nodejs_eventloop_lag_seconds']));
    expect(text).not.toContain('seckill_process_process_');
    expect(names(text).every((name) => name.startsWith('seckill_'))).toBe(true);
  });

  it('counts requests by route template and status, never by URL', () => {
    const count = (labels: Record<string, string>) => sample(text, 'seckill_http_request_duration_seconds_count', labels);
    expect(count({ method: 'GET', route: '/seckill/goods', status_code: '200' })).toBeGreaterThanOrEqual(1);
    expect(count({ method: 'GET', route: '/seckill/goods/:id', status_code: '404' })).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain('987654321');
  });
});

describe('the backlog gauges', () => {
  it('read delayed close jobs, queued timer requests, waiting payment jobs and open reviews at scrape time', async () => {
    const registry = new Registry();
    registerBacklogGauges(t.infra.core, registry);
    const scrape = () => registry.metrics();
    const goodsId = await createGoods(10);
    for (const buyer of ['b1', 'b2', 'b3']) {
      const res = await t.app.inject({ method: 'POST', url: '/seckill/orders', headers: t.buyer(buyer), payload: { goodsId } });
      expect(res.statusCode, res.body).toBe(201);
    }
    // no worker here: the grabs' timer requests wait for a pump
    let text = await scrape();
    expect(sample(text, 'seckill_timer_requests_queued')).toBe(3);
    expect(sample(text, 'seckill_queue_jobs', { queue: 'order-timeout', state: 'delayed' })).toBe(0);

    expect(await pumpTimers(t.infra.core)).toBe(3);
    await t.infra.core.queues.addPaymentEvent({ out_trade_no: '123456', result_code: 'SUCCESS', transaction_id: '4200000000000000000001' });
    const order = await t.infra.core.prisma.seckillOrder.create({
      data: { id: '999000111', goodsId: BigInt(goodsId), userId: 'b9', money: 100, status: 'NEEDS_REVIEW', createTime: new Date(), deadline: new Date() },
    });
    await t.infra.core.prisma.reviewItem.create({ data: { orderId: order.id, kind: 'CLOSE_FAILED', reason: 'test' } });

    text = await scrape();
    expect(sample(text, 'seckill_timer_requests_queued')).toBe(0);
    expect(sample(text, 'seckill_queue_jobs', { queue: 'order-timeout', state: 'delayed' })).toBe(3);
    expect(sample(text, 'seckill_queue_jobs', { queue: 'payment-result', state: 'waiting' })).toBe(1);
    expect(sample(text, 'seckill_reviews_open', { kind: 'CLOSE_FAILED' })).toBe(1);
    expect(text).toContain('seckill_reviews_open{kind="AMOUNT_MISMATCH"} 0');
    expect(sample(text, 'seckill_backlog_read_errors_total')).toBe(0);
  });
});

describe("a worker process's metrics endpoint", () => {
  it("has the worker's metrics, the backlog gauges, and none of the API's", async () => {
    const port = await freePort();
    worker = spawnWorker({ ...t.env, WORKER_METRICS_PORT: String(port) });
    await worker.started;
    const text = await eventually(async () => {
      const res = await request(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
      return res?.statusCode === 200 ? res.body.text() : undefined;
    }, 10_000);
    expect(own(text)).toEqual([...WORKER_METRICS].sort());
    expect(text).not.toContain('seckill_process_process_');
    expect(text).toContain('seckill_queue_jobs{queue="order-timeout",state="delayed"}');
    expect(sample(text, 'seckill_backlog_read_errors_total')).toBe(0);
  });
});

describe('docs/metrics.md', () => {
  it('lists every metric, and only metrics that exist', () => {
    const doc = readFileSync('docs/metrics.md', 'utf8');
    // a histogram's series (_bucket, _count, _sum) stand for the histogram
    const documented = new Set([...doc.matchAll(/`(seckill_[a-z_]+)[`{]/g)].map((m) => m[1]!.replace(/_(bucket|count|sum)$/, '')));
    const served = new Set([...API_METRICS, ...WORKER_METRICS]);
    expect([...served].filter((name) => !documented.has(name))).toEqual([]);
    expect([...documented].filter((name) => !served.has(name) && !isDefault(name))).toEqual([]);
  });

  it('docs/grafana-dashboard.json queries only metrics that exist', () => {
    const dashboard = JSON.parse(readFileSync('docs/grafana-dashboard.json', 'utf8')) as { panels: { targets: { expr: string }[] }[] };
    const exprs = dashboard.panels.flatMap((panel) => panel.targets.map((target) => target.expr));
    const used = new Set(exprs.flatMap((expr) => [...expr.matchAll(/seckill_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|count|sum)$/, ''))));
    const served = new Set([...API_METRICS, ...WORKER_METRICS]);
    expect([...used].filter((name) => !served.has(name) && !isDefault(name))).toEqual([]);
    expect(used.size).toBeGreaterThan(10);
  });
});
