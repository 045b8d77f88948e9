import { loadConfigOrExit } from '../config/env.js';
import { runByLauncher } from '../infra/launched.js';
import { createLogger } from '../infra/logger.js';
import { buildSandbox } from './app.js';
import { loadSandboxEnvOrExit } from './env.js';

/** Entry point of the WeChat Pay v2 sandbox process (`npm run start:sandbox`). */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger('wechat-sandbox', config.logLevel);
  const sandboxEnv = loadSandboxEnvOrExit();
  if (config.wechat.isProduction) {
    log.warn('WECHAT_PAY_BASE_URL points at WeChat Pay; the sandbox still answers for the configured merchant');
  }
  const app = buildSandbox({
    merchant: { appId: config.wechat.appId, mchId: config.wechat.mchId, apiKey: config.wechat.apiKey },
    timeScale: sandboxEnv.timeScale,
    faults: { closeRule: sandboxEnv.closeRule },
    logger: log,
  });

  let closing = false;
  const stop = (signal: string) => {
    if (closing) return;
    closing = true;
    log.info({ signal }, 'wechat sandbox shutting down');
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'wechat sandbox did not close cleanly');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  // started by `npm start`: its IPC channel's loss means the launcher died
  if (runByLauncher()) process.once('disconnect', () => stop('SIGTERM'));

  const address = await app.listen({ host: config.sandbox.host, port: config.sandbox.port });
  log.info({ url: address, appid: config.wechat.appId, mchId: config.wechat.mchId, timeScale: sandboxEnv.timeScale, closeRule: sandboxEnv.closeRule }, `wechat pay sandbox listening on ${address}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`wechat sandbox failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
