import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Metrics } from '../../infra/metrics.js';

/**
 * Every request's route template, method, status and duration in one histogram (its `_count` is
 * the request rate). The route is the template (`/seckill/orders/:orderId`), never the URL, so
 * ids do not become series; requests that match no route share `unmatched`.
 *
 * A callback hook with one label object per series, made once: this runs for every request of
 * the sold-out crowd, where a promise and three fresh objects per request show in the figures.
 */
export const httpMetrics = fp<{ metrics: Metrics }>(async (app: FastifyInstance, { metrics }) => {
  type Labels = { method: string; route: string; status_code: string };
  // route template → method → status → labels (the template and method strings are the same
  // objects on every request, so each lookup hashes nothing new)
  const series = new Map<string, Map<string, Map<number, Labels>>>();
  const labelsOf = (route: string, method: string, status: number): Labels => {
    let byMethod = series.get(route);
    if (byMethod === undefined) series.set(route, (byMethod = new Map<string, Map<number, Labels>>()));
    let byStatus = byMethod.get(method);
    if (byStatus === undefined) byMethod.set(method, (byStatus = new Map<number, Labels>()));
    let labels = byStatus.get(status);
    if (labels === undefined) byStatus.set(status, (labels = { method, route, status_code: String(status) }));
    return labels;
  };
  app.addHook('onResponse', (request, reply, done) => {
    metrics.httpRequests.observe(labelsOf(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode), reply.elapsedTime / 1000);
    done();
  });
});
