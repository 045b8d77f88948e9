import { loadConfigOrExit } from '../config/env.js';
import { createInfra, waitForRedisOrExit } from '../infra/context.js';
import { createLogger } from '../infra/logger.js';
import { onShutdown } from '../infra/shutdown.js';
import { startPaymentBridge } from './payment-bridge.js';
import { startWorkers } from './runtime.js';
import { startMetricsServer } from './metrics-server.js';
import { registerBacklogGauges } from './backlog-gauges.js';

/**
 * Worker entry point: BullMQ workers (order timeouts, payment results, sweeper) and the AMQP
 * payment bridge. Run as many as you like, on any hosts that reach Redis, MySQL and RabbitMQ.
 */
const config = loadConfigOrExit();
const logger = createLogger('worker', config.logLevel);
const infra = createInfra(config, logger, 'worker');
await waitForRedisOrExit(infra, logger);
const runtime = await startWorkers(infra);
const bridge = startPaymentBridge(infra);
registerBacklogGauges(infra.core, infra.core.metrics.registry);
const metricsServer = startMetricsServer(infra.core.metrics, config.host, config.workerMetricsPort, logger);
onShutdown(logger, async () => {
  metricsServer?.close();
  // Both at once, so no job is fetched while the bridge winds down: the bridge stops taking
  // payment events (unacked ones go back to RabbitMQ) and finishes storing the ones in hand
  // (the queues stay open until infra.close), the workers stop fetching jobs and finish theirs.
  await Promise.all([bridge.close(), runtime.close()]);
  await infra.close();
});
// sharded queues: their prefixes, to find them on the cluster (docs/production.md, "Redis Cluster")
const shards = config.queueShards > 1 ? { queueShards: infra.core.queues.shards.map((s) => s.prefix) } : {};
logger.info({ concurrency: config.workerConcurrency, paymentConcurrency: config.paymentWorkerConcurrency, wechat: config.wechat.baseUrl, ...shards }, 'worker started');
