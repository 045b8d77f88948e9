import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { withDatabase } from '../../src/infra/db/connection-url.js';
import { migrate } from '../../src/infra/db/migrate.js';
import { type Child, spawnTs } from '../../bench/timeouts/processes.js';
import { PrivateMariaDb } from '../../test/helpers/mariadb-server.js';
import { RabbitMqNode } from '../../test/helpers/rabbitmq-node.js';
import { freePort } from '../../test/helpers/redis-server.js';
import { CHAOS_KEY_PREFIX } from './invariants.js';
import { DurableRedis } from './redis-node.js';

/**
 * The system under test, as deployed: the API, `workers` worker processes and the WeChat sandbox,
 * each its own `node` process, on a private Redis (AOF everysec), a private RabbitMQ node and a
 * private MariaDB that this suite starts, stops and kills itself on loopback ports. The machine's
 * shared services are never touched.
 */

/**
 * Timings chosen so that a run takes minutes, not hours, while keeping every rule in force:
 * the sandbox runs at 1/100 of real time, so WeChat's 5-minute close rule is 3 s (and the
 * service is told the same), and its notification retries (15 s, 15 s, 30 s, 3 min, …) come
 * every 150 ms, 150 ms, 300 ms, 1.8 s, …
 */
export const CHAOS_TIMINGS = {
  orderTimeoutMs: 5_000,
  sandboxTimeScale: 0.01,
  closeMinAgeMs: 3_000,
  closeMaxAttempts: 8,
  closeBackoffMs: 250,
  workerLockMs: 3_000,
  stalledIntervalMs: 1_500,
  sweeperIntervalMs: 2_000,
} as const;

/** The close path's retry budget: the sum of BullMQ's exponential backoffs between attempts. */
export const closeRetryBudgetMs = CHAOS_TIMINGS.closeBackoffMs * (2 ** (CHAOS_TIMINGS.closeMaxAttempts - 1) - 1);

export interface Secrets {
  jwtSecret: string;
  adminUser: string;
  adminPassword: string;
}

export const SECRETS: Secrets = { jwtSecret: 'chaos-suite-jwt-secret-0123456789', adminUser: 'chaos', adminPassword: 'chaos-admin-password' };

export class Cluster {
  readonly workers: (Child | undefined)[] = [];
  /** when each worker logged `worker started` (undefined while booting or dead) */
  readonly readyAt: (number | undefined)[] = [];
  /** how long each worker start took, spawn to `worker started`, ms */
  readonly bootMs: number[] = [];
  api: Child | undefined;
  sandbox: Child | undefined;
  private workerStarts = 0;

  private constructor(
    readonly logDir: string,
    readonly redis: DurableRedis,
    readonly rabbit: RabbitMqNode,
    readonly mariadb: PrivateMariaDb,
    readonly databaseUrl: string,
    readonly apiPort: number,
    readonly sandboxPort: number,
    readonly workerCount: number,
  ) {}

  static async start(logDir: string, workerCount: number, say: (line: string) => void): Promise<Cluster> {
    mkdirSync(logDir, { recursive: true });
    say('starting private Redis (AOF everysec), RabbitMQ node and MariaDB…');
    const [redis, rabbit, mariadb] = await Promise.all([DurableRedis.create(), RabbitMqNode.start(), PrivateMariaDb.start()]);
    const databaseUrl = withDatabase(mariadb.url, 'seckill_chaos');
    await migrate({ databaseUrl });
    const cluster = new Cluster(logDir, redis, rabbit, mariadb, databaseUrl, await freePort(), await freePort(), workerCount);
    say(`starting sandbox, API and ${workerCount} workers (logs in ${logDir})…`);
    await cluster.startSandbox();
    await cluster.startApi();
    await Promise.all(Array.from({ length: workerCount }, (_, i) => cluster.startWorker(i)));
    return cluster;
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.apiPort}`;
  }

  get sandboxUrl(): string {
    return `http://127.0.0.1:${this.sandboxPort}`;
  }

  /** The contract's variables, as an operator would set them. */
  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const t = CHAOS_TIMINGS;
    return {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      PORT: String(this.apiPort),
      REDIS_URL: this.redis.url,
      DATABASE_URL: this.databaseUrl,
      AMQP_URL: this.rabbit.url,
      SANDBOX_HOST: '127.0.0.1',
      SANDBOX_PORT: String(this.sandboxPort),
      SANDBOX_TIME_SCALE: String(t.sandboxTimeScale),
      WECHAT_PAY_BASE_URL: this.sandboxUrl,
      WECHAT_NOTIFY_URL: `${this.apiUrl}/pay/wechat/notify`,
      WECHAT_CLOSE_MIN_AGE_MS: String(t.closeMinAgeMs),
      WECHAT_TIMEOUT_MS: '2000',
      ORDER_TIMEOUT_MS: String(t.orderTimeoutMs),
      CLOSE_MAX_ATTEMPTS: String(t.closeMaxAttempts),
      CLOSE_BACKOFF_MS: String(t.closeBackoffMs),
      WORKER_CONCURRENCY: '50',
      WORKER_LOCK_MS: String(t.workerLockMs),
      WORKER_STALLED_INTERVAL_MS: String(t.stalledIntervalMs),
      SWEEPER_INTERVAL_MS: String(t.sweeperIntervalMs),
      WORKER_METRICS_PORT: '0',
      KEY_PREFIX: CHAOS_KEY_PREFIX,
      QUEUE_PREFIX: '{chaos}',
      JWT_SECRET: SECRETS.jwtSecret,
      ADMIN_USER: SECRETS.adminUser,
      ADMIN_PASSWORD: SECRETS.adminPassword,
      LOG_LEVEL: 'info',
      ...extra,
    };
  }

  async startSandbox(): Promise<void> {
    this.sandbox = spawnTs('sandbox', 'src/sandbox/main.ts', this.env(), join(this.logDir, 'sandbox.log'));
    await this.sandbox.waitForLog('wechat pay sandbox listening');
  }

  async startApi(): Promise<void> {
    this.api = spawnTs('api', 'src/api/main.ts', this.env(), join(this.logDir, 'api.log'));
    await this.api.waitForLog('api listening');
  }

  /** Start worker `i` (again); each start logs to its own file. */
  async startWorker(i: number): Promise<void> {
    this.workerStarts += 1;
    const spawned = Date.now();
    const child = spawnTs(`worker-${i}`, 'src/workers/main.ts', this.env(), join(this.logDir, `worker-${i}.${this.workerStarts}.log`));
    this.workers[i] = child;
    this.readyAt[i] = undefined;
    await child.waitForLog('worker started');
    if (this.workers[i] !== child) return;
    this.readyAt[i] = Date.now();
    this.bootMs.push(Date.now() - spawned);
  }

  /** SIGKILL worker `i`: no shutdown hook runs, its jobs stay locked until the lock lapses. */
  async killWorker(i: number): Promise<void> {
    const child = this.workers[i];
    if (!child) return;
    process.kill(child.pid, 'SIGKILL');
    await child.exited;
    this.workers[i] = undefined;
    this.readyAt[i] = undefined;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.workers, this.api, this.sandbox].map((child) => (child ? child.stop(15_000) : Promise.resolve(undefined))));
    await Promise.all([this.redis.destroy(), this.rabbit.destroy(), this.mariadb.destroy()]);
  }
}
