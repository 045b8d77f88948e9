import { loadConfigOrExit } from '../config/env.js';
import { createInfra, waitForRedisOrExit } from '../infra/context.js';
import { createLogger } from '../infra/logger.js';
import { onShutdown } from '../infra/shutdown.js';
import { buildApp } from './app.js';

/** API entry point: only starts the application built in app.ts. */
const config = loadConfigOrExit();
const logger = createLogger('api', config.logLevel);
for (const warning of config.warnings) logger.warn(warning);

const infra = createInfra(config, logger, 'api');
await waitForRedisOrExit(infra, logger);
const app = await buildApp({ infra, logger });
onShutdown(logger, async () => {
  await app.close(); // stop accepting requests, finish in-flight ones
  await infra.close();
});
try {
  await app.listen({ port: config.port, host: config.host });
  logger.info(`api listening on http://${config.host}:${config.port} (docs /docs, queues /admin/queues)`);
} catch (err) {
  logger.fatal({ err: (err as Error).message }, `cannot listen on ${config.host}:${config.port}`);
  await infra.close();
  process.exit(1);
}
