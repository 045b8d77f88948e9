import { pino } from 'pino';
import { buildApp } from '../../src/api/app.js';
import { loadConfig } from '../../src/config/env.js';
import { createInfra, waitForRedis } from '../../src/infra/context.js';
import { serveUntilStopped } from './server-child.js';

/**
 * Benchmark target "full": the real API exactly as src/api/main.ts builds it (real Redis,
 * MariaDB, RabbitMQ clients, every plugin and route), configured by the environment the
 * orchestrator passes (own KEY_PREFIX, QUEUE_PREFIX, scratch database, LOG_LEVEL=silent).
 *
 * BENCH_ABLATE (comma-separated) removes or changes one piece, to measure what it costs; it is
 * for profiling only and never part of the reported figures:
 *   autopipeline  ioredis auto-pipelining on the API's Redis connection
 */
const config = loadConfig(process.env);
const logger = pino({ level: config.logLevel });
const infra = createInfra(config, logger, 'api');
await waitForRedis(infra.core.redis, config.redisUrl);

const ablate = new Set((process.env.BENCH_ABLATE ?? '').split(',').filter(Boolean));
if (ablate.has('autopipeline')) infra.core.redis.options.enableAutoPipelining = true;

const app = await buildApp({ infra, logger });
await serveUntilStopped(app, () => infra.close());
