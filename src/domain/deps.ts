import type { Config } from '../config/env.js';
import type { PrismaClient } from '../infra/db/prisma.js';
import type { Logger } from '../infra/logger.js';
import type { Metrics } from '../infra/metrics.js';
import type { Queues } from '../infra/queues/queues.js';
import type { RedisClient } from '../infra/redis/client.js';
import type { KeySpace } from '../infra/redis/keys.js';
import type { WeChatPayClient } from '../infra/wechat/client.js';
import type { SoldOutMemory } from './goods/sold-out.js';

/** What domain functions need, passed explicitly (no globals, no Fastify). */
export interface CoreDeps {
  config: Config;
  logger: Logger;
  /** one Redis or a Redis Cluster (REDIS_URL), auto-pipelined, with the Lua transitions defined */
  redis: RedisClient;
  keys: KeySpace;
  prisma: PrismaClient;
  queues: Queues;
  metrics: Metrics;
  wechat: WeChatPayClient;
  /** API processes: goods known to be sold out (absent where grabs are not served, or turned off) */
  soldOut?: SoldOutMemory;
}
