import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Child, spawnTs } from '../../bench/timeouts/processes.js';
import { freePort } from '../../test/helpers/redis-server.js';

/**
 * The system as deployed — the API, `workerCount` worker processes and the WeChat sandbox, each
 * its own `node` process started the way `npm start` starts them — configured only through the
 * contract's environment variables. Shared by the chaos suite (on private services it breaks)
 * and the demo (on the machine's services, under names of its own).
 */

export interface ServiceUrls {
  redisUrl: string;
  amqpUrl: string;
  databaseUrl: string;
}

export interface Secrets {
  jwtSecret: string;
  adminUser: string;
  adminPassword: string;
}

export class SystemProcesses {
  readonly workers: (Child | undefined)[] = [];
  /** when each worker logged `worker started` (undefined while booting or dead) */
  readonly readyAt: (number | undefined)[] = [];
  /** how long each worker start took, spawn to `worker started`, ms */
  readonly bootMs: number[] = [];
  api: Child | undefined;
  sandbox: Child | undefined;
  private workerStarts = 0;

  protected constructor(
    readonly logDir: string,
    readonly urls: ServiceUrls,
    readonly apiPort: number,
    readonly sandboxPort: number,
    readonly workerCount: number,
    readonly secrets: Secrets,
    /** variables on top of the service URLs and ports (timings, names, log level) */
    private readonly settings: Record<string, string>,
  ) {
    mkdirSync(logDir, { recursive: true });
  }

  static async start(logDir: string, urls: ServiceUrls, workerCount: number, secrets: Secrets, settings: Record<string, string>): Promise<SystemProcesses> {
    const system = new SystemProcesses(logDir, urls, await freePort(), await freePort(), workerCount, secrets, settings);
    await system.startAll();
    return system;
  }

  protected async startAll(): Promise<void> {
    await this.startSandbox();
    await this.startApi();
    await Promise.all(Array.from({ length: this.workerCount }, (_, i) => this.startWorker(i)));
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.apiPort}`;
  }

  get sandboxUrl(): string {
    return `http://127.0.0.1:${this.sandboxPort}`;
  }

  get databaseUrl(): string {
    return this.urls.databaseUrl;
  }

  /** The contract's variables, as an operator would set them. */
  env(): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      PORT: String(this.apiPort),
      REDIS_URL: this.urls.redisUrl,
      DATABASE_URL: this.urls.databaseUrl,
      AMQP_URL: this.urls.amqpUrl,
      SANDBOX_HOST: '127.0.0.1',
      SANDBOX_PORT: String(this.sandboxPort),
      WECHAT_PAY_BASE_URL: this.sandboxUrl,
      WECHAT_NOTIFY_URL: `${this.apiUrl}/pay/wechat/notify`,
      WORKER_METRICS_PORT: '0',
      JWT_SECRET: this.secrets.jwtSecret,
      ADMIN_USER: this.secrets.adminUser,
      ADMIN_PASSWORD: this.secrets.adminPassword,
      LOG_LEVEL: 'info',
      ...this.settings,
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

  /** SIGTERM every process (graceful), SIGKILL after 15 s. */
  async stopProcesses(): Promise<void> {
    await Promise.all([...this.workers, this.api, this.sandbox].map((child) => (child ? child.stop(15_000) : Promise.resolve(undefined))));
  }
}
