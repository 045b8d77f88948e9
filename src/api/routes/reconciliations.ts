import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { CoreDeps } from '../../domain/deps.js';
import { getReconciliation, requestReconciliation } from '../../domain/reconciliation/report.js';
import { Reconciliation, ReconciliationRequested } from '../openapi/components.js';
import { AUTH, BODY, PARAMS, SERVER, errors, json } from '../openapi/responses.js';

// the shape only; whether the day is a real past day within three months is the domain's check
const params = z.object({ billDate: z.string().regex(/^\d{8}$/, 'must be yyyyMMdd').describe('a Beijing calendar day, yyyyMMdd, before today and within three months') });

/** T+1 reconciliation against WeChat's daily bill (src/domain/reconciliation). */
export const reconciliationRoutes: FastifyPluginAsyncZod<{ deps: CoreDeps }> = async (app, { deps }) => {
  app.addHook('onRequest', app.requireAdmin);

  app.get('/admin/seckill/reconciliations/:billDate', {
    schema: {
      tags: ['admin'],
      summary: "The reconciliation of one Beijing day against WeChat's bill: counts and totals on both sides, each difference and what was done about it. 400 for a day in the future or older than three months; 404 before its first run.",
      params,
      security: [{ basic: [] }],
      response: { 200: json(Reconciliation, 'The day, as its last run left it'), ...errors(AUTH, PARAMS, 'RECONCILIATION_NOT_FOUND', SERVER) },
    },
  }, async (request) => getReconciliation(deps, request.params.billDate));

  app.post('/admin/seckill/reconciliations/:billDate/run', {
    schema: {
      tags: ['admin'],
      summary: 'Reconcile one Beijing day now (again): queued, or already waiting or running (one run of a day at a time). Running a day again changes nothing already done. 400 for a day in the future or older than three months.',
      params,
      security: [{ basic: [] }],
      response: { 202: json(ReconciliationRequested, 'Accepted: poll GET /admin/seckill/reconciliations/{billDate}'), ...errors(AUTH, BODY, SERVER) },
    },
  }, async (request, reply) => reply.status(202).send(await requestReconciliation(deps, request.params.billDate)));
};
