import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance } from 'fastify';
import type { Queues } from '../../infra/queues/queues.js';

export const BULL_BOARD_PATH = '/admin/queues';

/** Bull Board for every queue of the catalogue, behind the admin credentials. */
export async function registerBullBoard(app: FastifyInstance, queues: Queues): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  createBullBoard({
    queues: Object.values(queues.byName).map((queue) => new BullMQAdapter(queue)),
    serverAdapter,
  });
  await app.register(async (scope) => {
    scope.addHook('onRequest', app.requireAdmin);
    await scope.register(serverAdapter.registerPlugin(), { prefix: BULL_BOARD_PATH });
  });
}
