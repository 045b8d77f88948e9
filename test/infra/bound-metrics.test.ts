import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BoundHistogram, bindCounter, flushBoundSeries } from '../../src/infra/bound-metrics.js';

const buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
// on a bound, between bounds, below the first, above the last, zero, negative
const values = [0.001, 0.0007, 0.003, 0.0025, 2.5, 2.6, 40, 0, -1, 0.25, 0.2500001, 1e-9];
type L = 'method' | 'route' | 'status_code';
const seriesLabels: Record<L, string>[] = [
  { method: 'POST', route: '/seckill/orders', status_code: '409' },
  { method: 'GET', route: '/seckill/orders/:orderId', status_code: '200' },
  { method: 'GET', route: 'unmatched', status_code: '404' },
];

function both() {
  const reference = new Registry();
  const ours = new Registry();
  const histogram = new Histogram<L>({ name: 'h_seconds', help: 'help text', labelNames: ['method', 'route', 'status_code'], buckets, registers: [reference] });
  const bound = new BoundHistogram<L>({ name: 'h_seconds', help: 'help text', buckets, registers: [ours] });
  return { reference, ours, histogram, bound };
}

describe('BoundHistogram', () => {
  it('is exposed exactly as a prom-client Histogram given the same observations', async () => {
    const { reference, ours, histogram, bound } = both();
    seriesLabels.forEach((labels, i) => {
      const series = bound.series(labels);
      for (const v of values.slice(i)) {
        histogram.observe(labels, v);
        series.observe(v);
      }
    });
    const text = await ours.metrics();
    expect(text).toBe(await reference.metrics());
    expect(text).toContain('h_seconds_bucket{le="0.001",method="POST",route="/seckill/orders",status_code="409"} 5');
    expect(text).toContain('h_seconds_count{method="GET",route="unmatched",status_code="404"} 10');
    expect(await ours.getMetricsAsJSON()).toEqual(await reference.getMetricsAsJSON());
  });

  it('ignores non-finite values and starts again from zero after a reset', async () => {
    const { reference, ours, histogram, bound } = both();
    const series = bound.series(seriesLabels[0]!);
    series.observe(Number.NaN);
    series.observe(Number.POSITIVE_INFINITY);
    series.observe(0.02);
    histogram.observe(seriesLabels[0]!, 0.02);
    expect(await ours.metrics()).toBe(await reference.metrics());
    ours.resetMetrics();
    expect(await ours.metrics()).toContain('h_seconds_count{method="POST",route="/seckill/orders",status_code="409"} 0');
  });
});

describe('bindCounter', () => {
  it('adds the bound series to the counter whenever it is read, once', async () => {
    const registry = new Registry();
    const counter = new Counter({ name: 'refused_total', help: 'h', labelNames: ['reason'], registers: [registry], collect: flushBoundSeries });
    const soldOut = bindCounter(counter, { reason: 'SOLD_OUT' });
    for (let i = 0; i < 5; i += 1) soldOut.inc();
    counter.inc({ reason: 'SOLD_OUT' });
    counter.inc({ reason: 'REPEAT_ORDER' });
    expect(await registry.metrics()).toContain('refused_total{reason="SOLD_OUT"} 6');
    // a second read adds nothing; later increments are added on the next read
    expect((await counter.get()).values.find((v) => v.labels.reason === 'SOLD_OUT')?.value).toBe(6);
    soldOut.inc();
    expect((await counter.get()).values.find((v) => v.labels.reason === 'SOLD_OUT')?.value).toBe(7);
    expect((await counter.get()).values.find((v) => v.labels.reason === 'REPEAT_ORDER')?.value).toBe(1);
  });
});
