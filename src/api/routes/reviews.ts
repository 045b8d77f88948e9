import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { CoreDeps } from '../../domain/deps.js';
import { REVIEW_OUTCOMES, resolveReview } from '../../domain/reviews/resolve-review.js';
import { listReviews, retryReview } from '../../domain/reviews/reviews.js';

const params = z.object({ orderId: z.string().max(32) });

export const reviewRoutes: FastifyPluginAsyncZod<{ deps: CoreDeps }> = async (app, { deps }) => {
  app.addHook('onRequest', app.requireAdmin);

  app.get('/admin/seckill/reviews', {
    schema: { tags: ['admin'], summary: 'Orders a person must look at, with the reason', querystring: z.object({ status: z.enum(['OPEN', 'RESOLVED']).default('OPEN') }), security: [{ basic: [] }] },
  }, async (request) => listReviews(deps, request.query.status));

  app.post('/admin/seckill/reviews/:orderId/retry', {
    schema: { tags: ['admin'], summary: 'Re-run the close path of an order whose close failed', params, security: [{ basic: [] }] },
  }, async (request, reply) => reply.status(202).send(await retryReview(deps, request.params.orderId)));

  app.post('/admin/seckill/reviews/:orderId/resolve', {
    schema: {
      tags: ['admin'],
      summary: 'Resolve an order\'s review: RESTOCK (unit back on sale), SOLD (unit stays sold, durable stock −1), REFUNDED (money returned; a held unit goes back on sale). The buyer may grab again. 404 without a review, 409 if already resolved.',
      params,
      body: z.object({ outcome: z.enum(REVIEW_OUTCOMES) }),
      security: [{ basic: [] }],
    },
  }, async (request) => resolveReview(deps, request.params.orderId, request.body.outcome));
};
