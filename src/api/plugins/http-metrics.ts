import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Metrics } from '../../infra/metrics.js';

/**
 * Every request's route template, method, status and duration in one histogram (its `_count` is
 * the request rate). The route is the template (`/seckill/orders/:orderId`), never the URL, so
 * ids do not become series; requests that match no route share `unmatched`.
 */
export const httpMetrics = fp<{ metrics: Metrics }>(async (app: FastifyInstance, { metrics }) => {
  app.addHook('onResponse', async (request, reply) => {
    metrics.httpRequests.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
});
