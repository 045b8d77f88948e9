import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { HistogramSeries } from '../../infra/bound-metrics.js';
import type { Metrics } from '../../infra/metrics.js';

/**
 * Every request's route template, method, status and duration in one histogram (its `_count` is
 * the request rate). The route is the template (`/seckill/orders/:orderId`), never the URL, so
 * ids do not become series; requests that match no route share `unmatched`.
 *
 * A callback hook with each series bound once (src/infra/bound-metrics.ts): this runs for every
 * request of the sold-out crowd, where a promise, fresh objects and prom-client's label hashing
 * per request show in the figures.
 */
export const httpMetrics = fp<{ metrics: Metrics }>(async (app: FastifyInstance, { metrics }) => {
  type Series = HistogramSeries<'method' | 'route' | 'status_code'>;
  // route template → method → status → series (the template and method strings are the same
  // objects on every request, so each lookup hashes nothing new)
  const bound = new Map<string, Map<string, Map<number, Series>>>();
  const seriesOf = (route: string, method: string, status: number): Series => {
    let byMethod = bound.get(route);
    if (byMethod === undefined) bound.set(route, (byMethod = new Map<string, Map<number, Series>>()));
    let byStatus = byMethod.get(method);
    if (byStatus === undefined) byMethod.set(method, (byStatus = new Map<number, Series>()));
    let series = byStatus.get(status);
    if (series === undefined) byStatus.set(status, (series = metrics.httpRequests.series({ method, route, status_code: String(status) })));
    return series;
  };
  app.addHook('onResponse', (request, reply, done) => {
    seriesOf(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode).observe(reply.elapsedTime / 1000);
    done();
  });
});
