import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildApp } from '../../src/api/app.js';
import { type Config, type RawEnv, loadConfig } from '../../src/config/env.js';
import { type Infra, createInfra, waitForRedis } from '../../src/infra/context.js';
import { createTestDatabase } from './db.js';

export const silentLogger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

/** Redis prefixes and AMQP names of one test file or benchmark run, so nothing is shared. */
export function isolatedNames(keyTag: string, amqpTag: string, id: string): RawEnv {
  return {
    KEY_PREFIX: `${keyTag}${id}`,
    QUEUE_PREFIX: `{${keyTag}${id}}`,
    AMQP_EXCHANGE: `${amqpTag}.${id}.exchange.order`,
    AMQP_QUEUE: `${amqpTag}.${id}.queue.seckillorder`,
    AMQP_ROUTING_KEY: `${amqpTag}.${id}.queue.seckillorder`,
    AMQP_DEAD_LETTER_QUEUE: `${amqpTag}.${id}.queue.seckillorder.dead`,
  };
}

/** Env that isolates one test file: its own database, key prefix, queue prefix and AMQP names. */
export function isolatedEnv(databaseUrl: string, overrides: RawEnv = {}): RawEnv {
  const id = randomBytes(4).toString('hex');
  return {
    DATABASE_URL: databaseUrl,
    ...isolatedNames('t', 'test', id),
    JWT_SECRET: 'test-secret-test-secret-test-secret',
    ADMIN_USER: 'ops',
    ADMIN_PASSWORD: 'ops-password',
    LOG_LEVEL: 'silent',
    ...overrides,
  };
}

export interface TestContext {
  /** the environment the configuration was loaded from (to build a worker with the same one) */
  env: RawEnv;
  config: Config;
  infra: Infra;
  app: FastifyInstance;
  admin: { authorization: string };
  buyer(sub: string): { authorization: string };
  close(): Promise<void>;
}

/** Removes every Redis key of this test's prefixes (a "flush" that spares other test files). */
export async function deleteTestKeys(infra: Infra): Promise<void> {
  const { redis } = infra.core;
  for (const pattern of [`${infra.config.keyPrefix}:*`, `${infra.config.queuePrefix}:*`]) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  }
}

/** Removes this test's exchange and queues from the shared RabbitMQ. */
export async function deleteTestAmqpNames(infra: Infra): Promise<void> {
  const names = infra.config.amqp;
  if (!names.exchange.startsWith('test.')) return; // never the real, shared names
  const channel = await infra.amqp.acquire();
  try {
    await channel.queueDelete({ queue: names.queue });
    await channel.queueDelete({ queue: names.deadLetterQueue });
    await channel.exchangeDelete({ exchange: names.exchange });
  } finally {
    await channel.close();
  }
}

/** The API built on real Redis, MariaDB and RabbitMQ, isolated for one test file. */
export async function createTestContext(overrides: RawEnv = {}, databaseServerUrl?: string): Promise<TestContext> {
  const db = await createTestDatabase(databaseServerUrl);
  const env = isolatedEnv(db.url, overrides);
  const config = loadConfig(env);
  const infra = createInfra(config, silentLogger, 'api');
  await waitForRedis(infra.core.redis, config.redisUrl);
  const app = await buildApp({ infra });
  await app.ready();
  const basic = Buffer.from(`${config.admin.user}:${config.admin.password}`).toString('base64');
  return {
    env,
    config,
    infra,
    app,
    admin: { authorization: `Basic ${basic}` },
    buyer: (sub) => ({ authorization: `Bearer ${app.jwt.sign({ sub })}` }),
    async close() {
      await app.close();
      await deleteTestKeys(infra).catch(() => undefined);
      await deleteTestAmqpNames(infra).catch(() => undefined);
      await infra.close();
      await db.drop();
    },
  };
}
