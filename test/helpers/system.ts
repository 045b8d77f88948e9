import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { RawEnv } from '../../src/config/env.js';
import { loadConfig } from '../../src/config/env.js';
import { type Infra, createInfra, waitForRedis } from '../../src/infra/context.js';
import type { SandboxOptions } from '../../src/sandbox/app.js';
import { type RunningSandbox, startSandbox } from '../../src/sandbox/testing.js';
import { type PaymentBridge, startPaymentBridge } from '../../src/workers/payment-bridge.js';
import { type WorkerOptions, type WorkerRuntime, startWorkers } from '../../src/workers/runtime.js';
import { type TestContext, createTestContext, silentLogger } from './app.js';
import { freePort } from './redis-server.js';

/**
 * The whole system for one test file: the WeChat sandbox on a loopback port, the API listening
 * on a loopback port (so the sandbox can deliver notifications to it), and in-process workers
 * plus the AMQP bridge on their own worker-role connections — all on the real services.
 */
export interface TestSystem extends TestContext {
  sandbox: RunningSandbox;
  apiUrl: string;
  /** Worker-side infrastructure (same configuration as the API). */
  workerInfra: Infra;
  workers: WorkerRuntime | undefined;
  bridge: PaymentBridge | undefined;
  startWorkers(): Promise<void>;
  stopWorkers(): Promise<void>;
}

export interface SystemOptions {
  env?: RawEnv;
  /** start workers and the bridge at once (default true) */
  workers?: boolean;
  sweeper?: boolean;
  /** MySQL server for the test database (a private mariadbd for outage tests); default the shared one */
  databaseServerUrl?: string;
  /** options of the WeChat sandbox (time scale, initial faults) */
  sandbox?: Partial<SandboxOptions>;
  /** persister options for the in-process workers (false: no persister) */
  persister?: WorkerOptions['persister'];
  /** the worker side's logger (default silent): a test that reads what the workers log */
  workerLogger?: Logger;
}

export async function createTestSystem(options: SystemOptions = {}): Promise<TestSystem> {
  const sandbox = await startSandbox(options.sandbox);
  // the notify URL must name the API's port before the API is built: pick a free one
  const port = await freePort();
  const ctx = await createTestContext({
    WECHAT_PAY_BASE_URL: sandbox.url,
    WECHAT_NOTIFY_URL: `http://127.0.0.1:${port}/pay/wechat/notify`,
    ORDER_TIMEOUT_MS: '1000',
    // the test sandbox (time scale 0.001) enforces WeChat's 5-minute close rule as 300 ms
    WECHAT_CLOSE_MIN_AGE_MS: '300',
    CLOSE_BACKOFF_MS: '50',
    CLOSE_MAX_ATTEMPTS: '4',
    WORKER_CONCURRENCY: '20',
    WORKER_LOCK_MS: '2000',
    WORKER_STALLED_INTERVAL_MS: '1000',
    SWEEPER_INTERVAL_MS: '500',
    AMQP_PUBLISH_TIMEOUT_MS: '1500',
    ...options.env,
  }, options.databaseServerUrl);
  await ctx.app.listen({ host: '127.0.0.1', port });
  const address = ctx.app.server.address() as AddressInfo;

  // the worker side reads the very same variables as the API
  const workerConfig = loadConfig(ctx.env);
  const workerInfra = createInfra(workerConfig, options.workerLogger ?? silentLogger, 'worker');
  await waitForRedis(workerInfra.core.redis, workerConfig.redisUrl);

  const system: TestSystem = {
    ...ctx,
    sandbox,
    apiUrl: `http://127.0.0.1:${address.port}`,
    workerInfra,
    workers: undefined,
    bridge: undefined,
    async startWorkers() {
      system.workers ??= await startWorkers(workerInfra, { sweeper: options.sweeper ?? false, ...(options.persister === undefined ? {} : { persister: options.persister }) });
      system.bridge ??= startPaymentBridge(workerInfra);
    },
    async stopWorkers() {
      await system.bridge?.close();
      await system.workers?.close();
      system.bridge = undefined;
      system.workers = undefined;
    },
    async close() {
      await system.stopWorkers();
      await workerInfra.close();
      await ctx.close();
      await sandbox.close();
    },
  };
  if (options.workers !== false) await system.startWorkers();
  return system;
}
