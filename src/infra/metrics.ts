import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { BoundHistogram, bindCounter, flushBoundSeries } from './bound-metrics.js';

/** Which process a set of metrics belongs to: each serves its own /metrics. */
export type MetricsRole = 'api' | 'worker';

const API = ['api'] as const;
const WORKER = ['worker'] as const;
/** counted wherever the code runs: a buyer's GET can find a lost payment, and so can a worker */
const BOTH = ['api', 'worker'] as const;

/**
 * Prometheus metrics of one process, all named `seckill_*` (docs/metrics.md lists them). Domain
 * code counts through this one object whatever process it runs in; each metric is registered
 * (served) only in the processes that count it, so the API does not show worker metrics stuck
 * at 0, nor a worker the API's. The API serves its registry at /metrics, a worker on
 * WORKER_METRICS_PORT, where the worker also adds the backlog gauges read at scrape time
 * (src/workers/backlog-gauges.ts).
 */
export function createMetrics(role: MetricsRole) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'seckill_' });
  const registers = (roles: readonly MetricsRole[]) => (roles.includes(role) ? [registry] : []);
  const grabRejected = new Counter({ name: 'seckill_grab_rejected_total', help: 'Grab attempts refused', labelNames: ['reason'], registers: registers(API), collect: flushBoundSeries });
  const m = {
    registry,
    // the API's
    // observed on every request: bound series (src/api/plugins/http-metrics.ts binds each once)
    httpRequests: new BoundHistogram<'method' | 'route' | 'status_code'>({
      name: 'seckill_http_request_duration_seconds',
      help: 'HTTP requests by route template and status, and how long they took',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: registers(API),
    }),
    ordersReserved: new Counter({ name: 'seckill_orders_reserved_total', help: 'Orders created (units grabbed)', registers: registers(API) }),
    grabRejected,
    /** grabRejected{reason="SOLD_OUT"} for the refusals answered from memory (every one of the crowd's 409s) */
    soldOutRefusals: bindCounter(grabRejected, { reason: 'SOLD_OUT' }),
    notifications: new Counter({ name: 'seckill_wechat_notifications_total', help: 'WeChat payment notifications received', labelNames: ['result'], registers: registers(API) }),
    // both
    ordersPaid: new Counter({ name: 'seckill_orders_paid_total', help: 'Orders marked paid', registers: registers(BOTH) }),
    ordersToReview: new Counter({ name: 'seckill_orders_review_total', help: 'Orders sent to review', labelNames: ['kind'], registers: registers(BOTH) }),
    wechatCalls: new Counter({ name: 'seckill_wechat_calls_total', help: 'WeChat Pay API calls', labelNames: ['api', 'result'], registers: registers(BOTH) }),
    // the workers'
    ordersClosed: new Counter({ name: 'seckill_orders_closed_total', help: 'Orders closed with the unit restocked', labelNames: ['reason'], registers: registers(WORKER) }),
    bridgeEvents: new Counter({ name: 'seckill_bridge_events_total', help: 'Payment events consumed from RabbitMQ', labelNames: ['result'], registers: registers(WORKER) }),
    closeLateness: new Histogram({
      name: 'seckill_close_lateness_seconds',
      help: 'Time from an order deadline to its close',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: registers(WORKER),
    }),
    stockDrift: new Gauge({ name: 'seckill_stock_drift_units', help: 'durable stock - (live available + held) per goods, last sweep', labelNames: ['goods_id'], registers: registers(WORKER) }),
    stockDriftDetected: new Counter({ name: 'seckill_stock_drift_detected_total', help: 'Sweeps that found stock drift', registers: registers(WORKER) }),
    goodsRetired: new Counter({ name: 'seckill_goods_retired_total', help: 'Goods whose sale was over and settled, taken out of the live sale by the sweeper (their keys expire)', registers: registers(WORKER) }),
    sweeperRescheduled: new Counter({ name: 'seckill_sweeper_rescheduled_total', help: 'Overdue orders whose missing timeout job the sweeper re-added', registers: registers(WORKER) }),
    outboxDepth: new Gauge({ name: 'seckill_outbox_depth', help: 'Orders whose final state MySQL does not have yet, per goods (last persister poll)', labelNames: ['goods_id'], registers: registers(WORKER) }),
    outboxOldestAge: new Gauge({ name: 'seckill_outbox_oldest_age_seconds', help: 'Age of the oldest outbox entry, per goods (last persister poll)', labelNames: ['goods_id'], registers: registers(WORKER) }),
    outboxDepthTotal: new Gauge({ name: 'seckill_outbox_depth_total', help: 'Orders waiting in every outbox (last persister poll)', registers: registers(WORKER) }),
    outboxOldestAgeTotal: new Gauge({ name: 'seckill_outbox_oldest_age_total_seconds', help: 'Age of the oldest entry of any outbox (last persister poll)', registers: registers(WORKER) }),
    ordersPersisted: new Counter({ name: 'seckill_orders_persisted_total', help: 'Orders written to MySQL by the outbox persister', registers: registers(WORKER) }),
    persisterBatches: new Counter({ name: 'seckill_persister_batches_total', help: 'Outbox batches by result', labelNames: ['result'], registers: registers(WORKER) }),
    outboxSetAside: new Counter({ name: 'seckill_outbox_set_aside_total', help: 'Unreadable outbox entries moved aside for a person', registers: registers(WORKER) }),
    // T+1 reconciliation (src/domain/reconciliation)
    reconciliationRuns: new Counter({ name: 'seckill_reconciliation_runs_total', help: 'Reconciliation runs by result: succeeded, failed (bad bill, WeChat refused: see the run), retried', labelNames: ['result'], registers: registers(WORKER) }),
    reconciliationDifferences: new Counter({ name: 'seckill_reconciliation_differences_total', help: 'Differences between WeChat bills and our records, by kind, each counted once when first found', labelNames: ['kind'], registers: registers(WORKER) }),
    reconciliationLastSuccess: new Gauge({ name: 'seckill_reconciliation_last_success_timestamp_seconds', help: 'When a reconciliation last succeeded (Unix time; 0: none since this process started and none in MySQL)', registers: registers(WORKER) }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
