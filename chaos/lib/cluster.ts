import { OVERDUE_GRACE_MS } from '../../src/domain/orders/sweep.js';
import { withDatabase } from '../../src/infra/db/connection-url.js';
import { migrate } from '../../src/infra/db/migrate.js';
import { PrivateMariaDb } from '../../test/helpers/mariadb-server.js';
import { RabbitMqNode } from '../../test/helpers/rabbitmq-node.js';
import { freePort } from '../../test/helpers/redis-server.js';
import { CHAOS_KEY_PREFIX } from './invariants.js';
import { type Secrets, SystemProcesses } from './processes.js';
import { DurableRedis } from './redis-node.js';

export type { Secrets } from './processes.js';

/**
 * The system under test for the chaos suite: the API, `workers` worker processes and the WeChat
 * sandbox on a private Redis (AOF everysec), a private RabbitMQ node and a private MariaDB that
 * the suite starts, stops and kills itself on loopback ports. The machine's shared services are
 * never touched.
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

/**
 * What the "nothing UNPAID past its deadline + sweeper interval" check allows on top, for the
 * machine itself: the suite runs ten processes (three servers, API, workers, sandbox, itself) at
 * full load on as few as two cores, and samples every 250 ms.
 */
export const SCHEDULING_ALLOWANCE_MS = 2_000;

/**
 * How long an order may stay UNPAID past its deadline when nothing else is wrong: its job is
 * late, lost or failed, and the sweeper — which leaves an order alone until it is
 * OVERDUE_GRACE_MS overdue, so as not to schedule a close beside a job that is merely late —
 * rescues it within one sweeper interval after that; plus the machine's allowance.
 */
export const RESCUE_BOUND_MS = OVERDUE_GRACE_MS + CHAOS_TIMINGS.sweeperIntervalMs + SCHEDULING_ALLOWANCE_MS;

/** The close path's retry budget: the sum of BullMQ's exponential backoffs between attempts. */
export const closeRetryBudgetMs = CHAOS_TIMINGS.closeBackoffMs * (2 ** (CHAOS_TIMINGS.closeMaxAttempts - 1) - 1);

export const SECRETS: Secrets = { jwtSecret: 'chaos-suite-jwt-secret-0123456789', adminUser: 'chaos', adminPassword: 'chaos-admin-password' };

/** The variables of the chaos system beyond URLs and ports. */
export function timingSettings(t: Record<keyof typeof CHAOS_TIMINGS, number>): Record<string, string> {
  return {
    SANDBOX_TIME_SCALE: String(t.sandboxTimeScale),
    WECHAT_CLOSE_MIN_AGE_MS: String(t.closeMinAgeMs),
    WECHAT_TIMEOUT_MS: '2000',
    ORDER_TIMEOUT_MS: String(t.orderTimeoutMs),
    CLOSE_MAX_ATTEMPTS: String(t.closeMaxAttempts),
    CLOSE_BACKOFF_MS: String(t.closeBackoffMs),
    WORKER_CONCURRENCY: '50',
    WORKER_LOCK_MS: String(t.workerLockMs),
    WORKER_STALLED_INTERVAL_MS: String(t.stalledIntervalMs),
    SWEEPER_INTERVAL_MS: String(t.sweeperIntervalMs),
  };
}

export class Cluster extends SystemProcesses {
  private constructor(
    logDir: string,
    readonly redis: DurableRedis,
    readonly rabbit: RabbitMqNode,
    readonly mariadb: PrivateMariaDb,
    databaseUrl: string,
    apiPort: number,
    sandboxPort: number,
    workerCount: number,
  ) {
    super(logDir, { redisUrl: redis.url, amqpUrl: rabbit.url, databaseUrl }, apiPort, sandboxPort, workerCount, SECRETS, {
      ...timingSettings(CHAOS_TIMINGS),
      KEY_PREFIX: CHAOS_KEY_PREFIX,
      QUEUE_PREFIX: `{${CHAOS_KEY_PREFIX}}`,
    });
  }

  static async create(logDir: string, workerCount: number, say: (line: string) => void): Promise<Cluster> {
    say('starting private Redis (AOF everysec), RabbitMQ node and MariaDB…');
    const [redis, rabbit, mariadb] = await Promise.all([DurableRedis.create(), RabbitMqNode.start(), PrivateMariaDb.start()]);
    const databaseUrl = withDatabase(mariadb.url, 'seckill_chaos');
    await migrate({ databaseUrl });
    const cluster = new Cluster(logDir, redis, rabbit, mariadb, databaseUrl, await freePort(), await freePort(), workerCount);
    say(`starting sandbox, API and ${workerCount} workers (logs in ${logDir})…`);
    await cluster.startAll();
    return cluster;
  }

  async stop(): Promise<void> {
    await this.stopProcesses();
    await Promise.all([this.redis.destroy(), this.rabbit.destroy(), this.mariadb.destroy()]);
  }
}
