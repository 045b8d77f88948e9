import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { RedisClusterTarget, RedisTls } from '../../config/redis-target.js';
import type { Logger } from '../logger.js';
import { defineScripts } from './scripts.js';

export type RedisRole = 'api' | 'worker';

/**
 * One Redis or a Redis Cluster (REDIS_URL = redis+cluster://…). Both speak the same commands,
 * our Lua transitions included (each touches one goods' slot); BullMQ takes either.
 */
export type RedisClient = Redis | Cluster;

/** Where to connect: the configuration's REDIS_URL, and its cluster nodes when it names one. */
export interface RedisTarget {
  redisUrl: string;
  redisCluster?: RedisClusterTarget | undefined;
  /** rediss:// (one Redis): the CA to trust instead of the system's (REDIS_TLS_CA_FILE) */
  redisTls?: RedisTls | undefined;
}

/**
 * One ioredis connection with our Lua commands defined.
 * - `api`: producers fail fast (a request should get a 503, not hang while Redis is away).
 * - `worker`: `maxRetriesPerRequest: null`, as BullMQ requires for workers, so commands wait
 *   for Redis to come back instead of failing a job half-way.
 * - `autoPipelining`: commands issued while a batch is in flight leave together in the next one
 *   (one write and one read for many concurrent requests). For our own commands only: BullMQ
 *   gets a connection without it.
 */
export function createRedis(url: string, role: RedisRole, logger: Logger, name: string = role, autoPipelining = false, tls?: RedisTls): Redis {
  const redis = new Redis(url, {
    // rediss:// alone means TLS with the system's CAs; an explicit object adds REDIS_TLS_CA_FILE's
    ...(tls?.ca ? { tls: { ca: tls.ca } } : {}),
    enableAutoPipelining: autoPipelining,
    connectionName: `seckill-${name}`,
    maxRetriesPerRequest: role === 'worker' ? null : 1,
    enableOfflineQueue: role === 'worker',
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  });
  return withLogging(redis, logger, name);
}

/**
 * createRedis for whatever REDIS_URL names: on a cluster, the same role semantics through
 * ioredis' Cluster client (per-node options under `redisOptions`; a node that fails over is
 * found again through MOVED and the periodic slots refresh).
 */
export function createRedisClient(target: RedisTarget, role: RedisRole, logger: Logger, name: string = role, autoPipelining = false): RedisClient {
  if (!target.redisCluster) return createRedis(target.redisUrl, role, logger, name, autoPipelining, target.redisTls);
  const { nodes, username, password, tls } = target.redisCluster;
  const cluster = new Cluster(
    nodes.map((node) => ({ host: node.host, port: node.port })),
    {
      enableAutoPipelining: autoPipelining,
      enableOfflineQueue: role === 'worker',
      clusterRetryStrategy: (times) => Math.min(times * 200, 2_000),
      // TLS: connect to the names given (no lookup first), so a certificate issued for a host
      // name is checked against that name (what ioredis documents for managed TLS clusters)
      ...(tls ? { dnsLookup: (address: string, callback: (err: null, address: string) => void) => callback(null, address) } : {}),
      redisOptions: {
        ...(tls ? { tls: { ...tls } } : {}),
        connectionName: `seckill-${name}`,
        maxRetriesPerRequest: role === 'worker' ? null : 1,
        ...(username ? { username } : {}),
        ...(password ? { password } : {}),
      },
    },
  );
  return withLogging(cluster, logger, name);
}

/**
 * A second connection to the same Redis or cluster with some options changed (a subscriber).
 * Cluster.duplicate takes (startup nodes, options) and merges options shallowly, so the
 * per-node ones are merged here.
 */
export function duplicateClient(client: RedisClient, options: Pick<RedisOptions, 'connectionName' | 'maxRetriesPerRequest'> & { enableAutoPipelining?: boolean; enableOfflineQueue?: boolean }): RedisClient {
  if (client instanceof Redis) return client.duplicate(options);
  const { connectionName, maxRetriesPerRequest, ...clusterLevel } = options;
  return client.duplicate(undefined, {
    ...clusterLevel,
    redisOptions: { ...client.options.redisOptions, ...(connectionName ? { connectionName } : {}), ...(maxRetriesPerRequest !== undefined ? { maxRetriesPerRequest } : {}) },
  });
}

function withLogging<T extends RedisClient>(redis: T, logger: Logger, name: string): T {
  let lastError = '';
  redis.on('error', (err: Error) => {
    // ioredis repeats the same error on every reconnect attempt; log each distinct one once
    if (err.message !== lastError) logger.error({ err: err.message, redis: name }, 'redis error');
    lastError = err.message;
  });
  redis.on('ready', () => {
    if (lastError) logger.info({ redis: name }, 'redis reconnected');
    lastError = '';
  });
  return defineScripts(redis);
}

/** The masters of a cluster (each one Redis), or the one Redis. */
export const mastersOf = (client: RedisClient): Redis[] => (client instanceof Redis ? [client] : client.nodes('master'));

/** Close gracefully; fall back to a hard disconnect if Redis is unreachable. */
export async function closeRedis(redis: RedisClient): Promise<void> {
  if (redis.status === 'end') return;
  try {
    await Promise.race([redis.quit(), new Promise((_, reject) => setTimeout(() => reject(new Error('quit timeout')), 2_000))]);
  } catch {
    redis.disconnect();
  }
}
