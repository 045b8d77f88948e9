import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance } from 'fastify';
import type { Queues } from '../../infra/queues/queues.js';
import { HttpError } from '../http-errors.js';

export const BULL_BOARD_PATH = '/admin/queues';

/**
 * Bull Board for every queue of the catalogue — of every shard (QUEUE_SHARDS), each listed as
 * `shard-<n>.<queue>` (Bull Board keys its routes by name) — behind the admin credentials.
 */
export async function registerBullBoard(app: FastifyInstance, queues: Queues): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  createBullBoard({
    queues: queues.all().map(({ queue, shard }) =>
      queues.shardCount === 1 ? new BullMQAdapter(queue) : new BullMQAdapter(queue, { prefix: `shard-${shard}.`, displayName: `${queue.name} (shard ${shard})` }),
    ),
    serverAdapter,
  });
  await app.register(async (scope) => {
    // Bull Board's plugin has its own error handler (its own body shape): the refusal is sent
    // here, in the API's `{code, message}` like every other admin route's.
    scope.addHook('onRequest', async (request, reply) => {
      try {
        await app.requireAdmin(request, reply);
      } catch (err) {
        if (!(err instanceof HttpError)) throw err;
        return reply.status(err.statusCode).headers(err.headers).send({ code: err.code, message: err.message });
      }
    });
    await scope.register(serverAdapter.registerPlugin(), { prefix: BULL_BOARD_PATH });
  });
}
