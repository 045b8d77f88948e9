import { readFileSync } from 'node:fs';
import type { Connection } from 'rabbitmq-client';
import type { Config } from '../config/env.js';
import type { CoreDeps } from '../domain/deps.js';
import { closeAmqp, createAmqp } from './amqp/connection.js';
import { PaymentPublisher } from './amqp/payment-publisher.js';
import { closePrisma, createPrisma } from './db/prisma.js';
import type { Logger } from './logger.js';
import { createMetrics } from './metrics.js';
import { Queues } from './queues/queues.js';
import { type RedisClient, type RedisRole, closeRedis, createRedisClient, mastersOf } from './redis/client.js';
import { assertCluster } from './redis/cluster-check.js';
import { nodeName } from '../config/redis-target.js';
import { redisDurabilityProblems } from './redis/durability.js';
import { keySpace } from './redis/keys.js';
import { RestockListener } from './redis/restock-listener.js';
import { SoldOutMemory } from '../domain/goods/sold-out.js';
import { runByLauncher } from './launched.js';
import { WeChatPayClient } from './wechat/client.js';

/**
 * Every infrastructure client of one process, created together and closed together in reverse
 * order. The API and the worker build one each; tests build one per test file.
 */
export interface Infra {
  config: Config;
  /** which process this is (the name of its connections) */
  role: RedisRole;
  core: CoreDeps;
  amqp: Connection;
  publisher: PaymentPublisher;
  /**
   * The BullMQ workers' connection (they duplicate it for their blocking reads), and the API's
   * producers (`core.queues`). A worker process's producers share `core.redis`, which is
   * auto-pipelined: the jobs added and removed by many concurrent handlers in one event-loop turn
   * leave in one write instead of one each (on loopback each write costs tens of µs of CPU).
   */
  queueRedis: RedisClient;
  readinessChecks: { name: string; check: () => Promise<void> }[];
  close(): Promise<void>;
}

export function createInfra(config: Config, logger: Logger, role: RedisRole): Infra {
  const redis = createRedisClient(config, role, logger, role, true);
  const queueRedis = createRedisClient(config, role, logger, `${role}-queues`);
  const prisma = createPrisma(config.databaseUrl, logger);
  // producers on the auto-pipelined connection in the worker only: in the API, Bull Board's heavy
  // reads (getJobs) would hold up the grabs' commands queued behind them in the same batch
  const queues = new Queues(role === 'worker' ? redis : queueRedis, config.queuePrefix, config.close, logger, config.queueShards, {
    maxAttempts: config.reconciliation.attempts,
    backoffMs: config.reconciliation.retryMs,
  });
  const amqp = createAmqp(config.amqpUrl, logger, role);
  const publisher = new PaymentPublisher(amqp, config.amqp);
  const cert = config.wechat.certificateFile;
  const wechat = new WeChatPayClient({
    ...config.wechat,
    logger,
    ...(cert ? { certificate: { pfx: readFileSync(cert.path), passphrase: cert.passphrase } } : {}),
  });
  const keys = keySpace(config.keyPrefix);
  const core: CoreDeps = { config, logger, redis, keys, prisma, queues, metrics: createMetrics(role), wechat };
  // grabs are served by the API: there the crowd after the last unit is answered from memory
  let restockListener: RestockListener | undefined;
  if (role === 'api' && config.soldOutRecheckMs > 0) {
    core.soldOut = new SoldOutMemory();
    restockListener = new RestockListener(core.soldOut, redis, keys, config.soldOutRecheckMs, logger);
  }

  const readinessChecks = [
    { name: 'redis', check: async () => void (await Promise.all([redis.ping(), queueRedis.ping()])) },
    { name: 'mysql', check: async () => void (await prisma.$queryRawUnsafe('SELECT 1')) },
    {
      name: 'rabbitmq',
      check: async () => {
        if (!amqp.ready) throw new Error('not connected');
      },
    },
  ];

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      await publisher.close().catch(() => undefined);
      await closeAmqp(amqp);
      await queues.close().catch(() => undefined);
      await wechat.close().catch(() => undefined);
      await restockListener?.close();
      await closeRedis(redis);
      await closeRedis(queueRedis);
      await closePrisma(prisma);
    })();
    return closing;
  };
  return { config, role, core, amqp, publisher, queueRedis, readinessChecks, close };
}

/** Wait until Redis answers, naming the URL if it does not (start-up only). */
export async function waitForRedis(redis: RedisClient, url: string, timeoutMs = 10_000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Redis at ${url} is not reachable`)), timeoutMs);
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Entry points: wait for Redis, or say where it was expected and how to start it, and exit.
 * Then check it is durable (design §8): in production a Redis that may lose or evict data
 * refuses the start; in development each problem is a warning.
 */
export async function waitForRedisOrExit(infra: Infra, logger: Logger): Promise<void> {
  try {
    // a cluster: every listed node answers and they are one cluster, or the start fails naming them
    if (infra.config.redisCluster) await assertCluster(infra.config.redisCluster);
    await waitForRedis(infra.core.redis, infra.config.redisUrl);
    await waitForRedis(infra.queueRedis, infra.config.redisUrl);
  } catch (err) {
    const fix = infra.config.redisCluster
      ? "check REDIS_URL's node list (docs/production.md, \"Redis Cluster\")"
      : 'start it with: redis-server --daemonize yes --appendonly yes --maxmemory-policy noeviction';
    logger.fatal(`${(err as Error).message}; ${fix}`);
    await infra.close();
    process.exit(1);
  }
  const problems = await durabilityProblems(infra);
  if (problems.length === 0) return;
  if (infra.config.production) {
    for (const problem of problems) logger.fatal(`${problem} (refused in production)`);
    await infra.close();
    process.exit(1);
  }
  // `npm start` runs one API and one worker on the same Redis: the API's warning is enough.
  if (runByLauncher() && infra.role !== 'api') return;
  for (const problem of problems) logger.warn(`${problem} (fine for development, refused in production)`);
}

/** The durability check on the one Redis, or on every master of the cluster (each named). */
async function durabilityProblems(infra: Infra): Promise<string[]> {
  const masters = mastersOf(infra.core.redis);
  const perMaster = await Promise.all(
    masters.map(async (master) => {
      const problems = await redisDurabilityProblems(master).catch((err: Error) => [`could not read Redis's persistence settings: ${err.message}`]);
      const name = infra.config.redisCluster ? `cluster master ${nodeName({ host: master.options.host ?? '?', port: master.options.port ?? 0 })}: ` : '';
      return problems.map((p) => `${name}${p}`);
    }),
  );
  return perMaster.flat();
}
