import Fastify from 'fastify';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/env.js';
import { createOrderIdGenerator } from '../../src/domain/orders/order-id.js';
import { Transition } from '../../src/domain/orders/transition-codes.js';
import { closeRedis, createRedis } from '../../src/infra/redis/client.js';
import { keySpace } from '../../src/infra/redis/keys.js';
import { waitForRedis } from '../../src/infra/context.js';
import { serveUntilStopped } from './server-child.js';

/**
 * Benchmark target "baseline": the floor a grab cannot go below — a bare Fastify server whose
 * route runs only the reserveOrder Lua script, on the same Redis, the same key layout and the
 * same order-id generator as the real API. No JWT verification (the buyer is read from the
 * token's payload unverified, so requests stay identical), no schema, no logger, no order index,
 * no BullMQ job.
 */
const config = loadConfig(process.env);
const redis = createRedis(config.redisUrl, 'api', pino({ level: 'silent' }), 'bench-baseline');
await waitForRedis(redis, config.redisUrl);
const keys = keySpace(config.keyPrefix);
const ids = await createOrderIdGenerator(redis, keys.nodeSequence);
const windowMs = config.orderTimeoutMs;

function buyerOf(authorization: string | undefined): string {
  const payload = authorization?.split('.')[1];
  if (!payload) return '';
  return (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: string }).sub ?? '';
}

const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
app.post('/seckill/orders', async (request, reply) => {
  const buyerId = buyerOf(request.headers.authorization);
  const goodsId = String((request.body as { goodsId: unknown }).goodsId);
  const k = keys.forGoods(goodsId);
  const orderId = ids.next(goodsId);
  const [code, createTime, deadline, money] = await redis.reserveOrder(k.goods, k.stock, k.held, k.order(orderId), k.buyer(buyerId), k.timers, orderId, buyerId, goodsId, windowMs);
  if (code !== Transition.Done) return reply.status(409).send({ code: `CODE_${code}`, message: 'refused' });
  return reply.status(201).send({
    orderId,
    goodsId,
    money,
    status: 'UNPAID',
    createTime: new Date(createTime).toISOString(),
    deadline: new Date(deadline).toISOString(),
  });
});
await serveUntilStopped(app, () => closeRedis(redis));
