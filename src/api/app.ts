import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import { validatorCompiler } from 'fastify-type-provider-zod';
import type { Infra } from '../infra/context.js';
import { consoleRoutes } from './console/console-routes.js';
import { auth } from './plugins/auth.js';
import { registerBullBoard } from './plugins/bull-board.js';
import { docs } from './plugins/docs.js';
import { errorHandler, routerErrorReply } from './plugins/error-handler.js';
import { httpMetrics } from './plugins/http-metrics.js';
import { jsonBody } from './plugins/json-body.js';
import { goodsRoutes } from './routes/goods.js';
import { healthRoutes } from './routes/health.js';
import { orderRoutes } from './routes/orders.js';
import { reconciliationRoutes } from './routes/reconciliations.js';
import { reviewRoutes } from './routes/reviews.js';
import { wechatNotifyRoutes } from './routes/wechat-notify.js';
import { createOrderIdGenerator } from '../domain/orders/order-id.js';
import { readOutboxLag } from '../domain/outbox/outbox-lag.js';

export interface AppOptions {
  infra: Infra;
  logger?: FastifyServerOptions['loggerInstance'];
}

/**
 * The HTTP application as a plain function of its infrastructure: tests call it and use
 * `inject`; src/api/main.ts calls it and listens. It never owns the clients it is given.
 */
export async function buildApp({ infra, logger }: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(logger ? { loggerInstance: logger } : { logger: false }),
    bodyLimit: 64 * 1024,
    // The access log (Fastify's "incoming request" / "request completed" per request) only at
    // LOG_LEVEL debug or trace: at info it would be two lines for each of the sold-out crowd's
    // thousands of 409s a second, ≈ 40 µs of the API's CPU per request (a quarter of a 409,
    // BENCHMARKS.md). Every request is still counted by route and status in the HTTP metric, and
    // errors, refusals of notifications and 5xx are logged where they happen.
    logController: new LogController({ disableRequestLogging: infra.config.logLevel !== 'debug' && infra.config.logLevel !== 'trace' }),
    // ids are decimal strings; a trusted proxy may set X-Forwarded-For (spbill_create_ip)
    trustProxy: true,
    // errors the router raises before any handler (a malformed or over-long URL parameter)
    frameworkErrors: routerErrorReply,
  });
  app.setValidatorCompiler(validatorCompiler);
  // Response schemas document the API (OpenAPI) and type the handlers; they are not enforced at
  // run time. test/api/openapi.test.ts checks real responses against the published document, so
  // a drifting document fails a test instead of turning a grab into a 500, and a reply costs
  // one JSON.stringify as before.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  await app.register(httpMetrics, { metrics: infra.core.metrics });
  await app.register(errorHandler);
  await app.register(jsonBody);
  await app.register(docs);
  await app.register(auth, { jwtSecret: infra.config.jwtSecret, admin: infra.config.admin });

  const deps = infra.core;
  await app.register(healthRoutes, {
    checks: infra.readinessChecks,
    // MySQL behind is not "not ready" (the sale goes on from Redis); it is what an operator asks first
    detail: async () => {
      const lag = await readOutboxLag(deps);
      return { persister: { depth: lag.depth, oldestAgeMs: lag.oldestAgeMs, goods: lag.goods.filter((g) => g.depth > 0).slice(0, 10) } };
    },
    metricsText: () => infra.core.metrics.registry.metrics(),
  });
  await app.register(goodsRoutes, { deps });
  const ids = await createOrderIdGenerator(deps.redis, deps.keys.nodeSequence);
  await app.register(orderRoutes, { deps, ids });
  await app.register(reviewRoutes, { deps });
  await app.register(reconciliationRoutes, { deps });
  await app.register(wechatNotifyRoutes, { deps, publisher: infra.publisher });
  await registerBullBoard(app, infra.core.queues);
  // the operator console (/admin): HTML over the same domain functions as the admin API
  await app.register(consoleRoutes, { deps, admin: infra.config.admin });
  return app;
}
