import { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { defineScripts } from './scripts.js';

export type RedisRole = 'api' | 'worker';

/**
 * One ioredis connection with our Lua commands defined.
 * - `api`: producers fail fast (a request should get a 503, not hang while Redis is away).
 * - `worker`: `maxRetriesPerRequest: null`, as BullMQ requires for workers, so commands wait
 *   for Redis to come back instead of failing a job half-way.
 * - `autoPipelining`: commands issued while a batch is in flight leave together in the next one
 *   (one write and one read for many concurrent requests). For our own commands only: BullMQ
 *   gets a connection without it.
 */
export function createRedis(url: string, role: RedisRole, logger: Logger, name: string = role, autoPipelining = false): Redis {
  const redis = new Redis(url, {
    enableAutoPipelining: autoPipelining,
    connectionName: `seckill-${name}`,
    maxRetriesPerRequest: role === 'worker' ? null : 1,
    enableOfflineQueue: role === 'worker',
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  });
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

/** Close gracefully; fall back to a hard disconnect if Redis is unreachable. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  try {
    await Promise.race([redis.quit(), new Promise((_, reject) => setTimeout(() => reject(new Error('quit timeout')), 2_000))]);
  } catch {
    redis.disconnect();
  }
}
