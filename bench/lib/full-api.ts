import { pino } from 'pino';
import { buildApp } from '../../src/api/app.js';
import { loadConfig } from '../../src/config/env.js';
import { createInfra, waitForRedis } from '../../src/infra/context.js';
import { serveUntilStopped } from './server-child.js';

/**
 * Benchmark target "full": the real API exactly as src/api/main.ts builds it (real Redis,
 * MariaDB, RabbitMQ clients, every plugin and route), configured by the environment the
 * orchestrator passes (own KEY_PREFIX, QUEUE_PREFIX, scratch database, LOG_LEVEL=silent).
 */
const config = loadConfig(process.env);
const logger = pino({ level: config.logLevel });
const infra = createInfra(config, logger, 'api');
await waitForRedis(infra.core.redis, config.redisUrl);
const app = await buildApp({ infra, logger });
await serveUntilStopped(app, () => infra.close());
