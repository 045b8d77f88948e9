import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics of one process. Domain code increments these; the API serves them at
 * /metrics (the worker's are exposed by its own small metrics listener when configured).
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'seckill_process_' });
  const m = {
    registry,
    ordersReserved: new Counter({ name: 'seckill_orders_reserved_total', help: 'Orders created (units grabbed)', registers: [registry] }),
    grabRejected: new Counter({ name: 'seckill_grab_rejected_total', help: 'Grab attempts refused', labelNames: ['reason'], registers: [registry] }),
    ordersClosed: new Counter({ name: 'seckill_orders_closed_total', help: 'Orders closed with the unit restocked', labelNames: ['reason'], registers: [registry] }),
    ordersPaid: new Counter({ name: 'seckill_orders_paid_total', help: 'Orders marked paid', registers: [registry] }),
    ordersToReview: new Counter({ name: 'seckill_orders_review_total', help: 'Orders sent to review', labelNames: ['kind'], registers: [registry] }),
    notifications: new Counter({ name: 'seckill_wechat_notifications_total', help: 'WeChat payment notifications received', labelNames: ['result'], registers: [registry] }),
    bridgeEvents: new Counter({ name: 'seckill_bridge_events_total', help: 'Payment events consumed from RabbitMQ', labelNames: ['result'], registers: [registry] }),
    wechatCalls: new Counter({ name: 'seckill_wechat_calls_total', help: 'WeChat Pay API calls', labelNames: ['api', 'result'], registers: [registry] }),
    closeLateness: new Histogram({
      name: 'seckill_close_lateness_seconds',
      help: 'Time from an order deadline to its close',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    stockDrift: new Gauge({ name: 'seckill_stock_drift_units', help: 'durable stock - (live available + held) per goods, last sweep', labelNames: ['goods_id'], registers: [registry] }),
    stockDriftDetected: new Counter({ name: 'seckill_stock_drift_detected_total', help: 'Sweeps that found stock drift', registers: [registry] }),
    outboxDepth: new Gauge({ name: 'seckill_outbox_depth', help: 'Orders whose final state MySQL does not have yet, per goods (last persister poll)', labelNames: ['goods_id'], registers: [registry] }),
    outboxOldestAge: new Gauge({ name: 'seckill_outbox_oldest_age_seconds', help: 'Age of the oldest outbox entry, per goods (last persister poll)', labelNames: ['goods_id'], registers: [registry] }),
    outboxDepthTotal: new Gauge({ name: 'seckill_outbox_depth_total', help: 'Orders waiting in every outbox (last persister poll)', registers: [registry] }),
    outboxOldestAgeTotal: new Gauge({ name: 'seckill_outbox_oldest_age_total_seconds', help: 'Age of the oldest entry of any outbox (last persister poll)', registers: [registry] }),
    ordersPersisted: new Counter({ name: 'seckill_orders_persisted_total', help: 'Orders written to MySQL by the outbox persister', registers: [registry] }),
    persisterBatches: new Counter({ name: 'seckill_persister_batches_total', help: 'Outbox batches by result', labelNames: ['result'], registers: [registry] }),
    outboxSetAside: new Counter({ name: 'seckill_outbox_set_aside_total', help: 'Unreadable outbox entries moved aside for a person', registers: [registry] }),
    sweeperRescheduled: new Counter({ name: 'seckill_sweeper_rescheduled_total', help: 'Overdue orders whose missing timeout job the sweeper re-added', registers: [registry] }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
