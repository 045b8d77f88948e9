import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { CoreDeps } from '../../domain/deps.js';
import { REVIEW_OUTCOMES, resolveReview } from '../../domain/reviews/resolve-review.js';
import { listReviews, retryReview } from '../../domain/reviews/reviews.js';
import { Closing, ResolvedReview, Review } from '../openapi/components.js';
import { requestExamples } from '../openapi/examples.js';
import { AUTH, BODY, PARAMS, SERVER, errors, json } from '../openapi/responses.js';

const params = z.object({ orderId: z.string().max(32).describe('order id (decimal string)') });

export const reviewRoutes: FastifyPluginAsyncZod<{ deps: CoreDeps }> = async (app, { deps }) => {
  app.addHook('onRequest', app.requireAdmin);

  app.get('/admin/seckill/reviews', {
    schema: {
      tags: ['admin'],
      summary: 'Orders a person must look at, with the reason',
      querystring: z.object({ status: z.enum(['OPEN', 'RESOLVED']).default('OPEN') }),
      security: [{ basic: [] }],
      response: { 200: json(z.array(Review), 'Reviews in that status, oldest first (at most 500)'), ...errors(AUTH, PARAMS, SERVER) },
    },
  }, async (request) => listReviews(deps, request.query.status));

  app.post('/admin/seckill/reviews/:orderId/retry', {
    schema: {
      tags: ['admin'],
      summary: 'Re-run the close path of an order whose close failed',
      params,
      security: [{ basic: [] }],
      response: { 202: json(Closing, 'Accepted: the order is CLOSING again'), ...errors(AUTH, BODY, 'REVIEW_NOT_FOUND', 'REVIEW_NOT_RETRYABLE', SERVER) },
    },
  }, async (request, reply) => reply.status(202).send(await retryReview(deps, request.params.orderId)));

  app.post('/admin/seckill/reviews/:orderId/resolve', {
    schema: {
      tags: ['admin'],
      summary: 'Resolve an order\'s review: RESTOCK (unit back on sale), SOLD (unit stays sold, durable stock −1), REFUNDED (money returned; a held unit goes back on sale). The buyer may grab again. 404 without a review, 409 if already resolved.',
      params,
      body: z.object({ outcome: z.enum(REVIEW_OUTCOMES) }).meta(requestExamples({ 'unit back on sale': { outcome: 'RESTOCK' }, 'unit stays sold': { outcome: 'SOLD' }, 'money returned': { outcome: 'REFUNDED' } })),
      security: [{ basic: [] }],
      response: {
        200: json(ResolvedReview, 'Resolved'),
        ...errors(AUTH, BODY, 'REVIEW_NOT_FOUND', 'REVIEW_ALREADY_RESOLVED', 'REVIEW_OUTCOME_NOT_POSSIBLE', SERVER),
      },
    },
  }, async (request) => resolveReview(deps, request.params.orderId, request.body.outcome));
};
