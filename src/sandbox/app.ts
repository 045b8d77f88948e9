import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { controlRoutes } from './control-routes.js';
import { SandboxCore, type SandboxMerchant } from './core.js';
import type { FaultsPatch } from './faults.js';
import { payRoutes } from './pay-routes.js';

export interface SandboxOptions {
  /** The one merchant the sandbox knows (config.wechat.appId/mchId/apiKey). */
  readonly merchant: SandboxMerchant;
  /** Multiplies the notification retry schedule, the 5-minute close rule and the 10 s refund delay. Default 1. */
  readonly timeScale?: number;
  /** How long one notification waits for the merchant's reply (not scaled). Default 5000. */
  readonly notifyTimeoutMs?: number;
  /** Faults in force at start and after `POST /sandbox/reset`. */
  readonly faults?: FaultsPatch;
  /** Override WeChat's notification retry delays (ms, before scaling); mostly for tests. */
  readonly retryScheduleMs?: readonly number[];
  /** A pino logger; silent when absent. */
  readonly logger?: FastifyBaseLogger;
}

export type SandboxInstance = FastifyInstance & { readonly sandbox: SandboxCore };

/**
 * A local WeChat Pay v2 stand-in as a Fastify instance: the WeChat endpoints under `/pay/*` (and
 * `/secapi/pay/refund`) and the control API under `/sandbox/*`. State is in memory. Closing the instance stops the
 * notifier (timers cleared, deliveries aborted) and cuts short any injected delay.
 */
export function buildSandbox(options: SandboxOptions): SandboxInstance {
  const timeScale = options.timeScale ?? 1;
  if (!(timeScale > 0) || !Number.isFinite(timeScale)) throw new RangeError('timeScale must be a positive number');
  const core = new SandboxCore({
    merchant: options.merchant,
    timeScale,
    notifyTimeoutMs: options.notifyTimeoutMs ?? 5_000,
    faults: options.faults,
    retryScheduleMs: options.retryScheduleMs,
  });
  const app: FastifyInstance = Fastify(options.logger ? { loggerInstance: options.logger } : { logger: false });
  const shutdown = new AbortController();

  app.decorate('sandbox', core);
  // preClose runs before the server waits for requests in flight: release delayed answers and
  // the notifier first, so closing never waits for a fault's sleep or a retry timer.
  app.addHook('preClose', async () => {
    shutdown.abort();
    await core.close();
  });
  void app.register(payRoutes(core, shutdown.signal));
  void app.register(controlRoutes(core));
  // Fastify's decorate() does not change the instance's type; this narrows it to what we added.
  return app as SandboxInstance;
}
