import type { Job } from 'bullmq';
import type { CoreDeps } from '../domain/deps.js';
import { closeOrder } from '../domain/orders/close.js';
import { applyPayment } from '../domain/orders/payment.js';
import { sweep } from '../domain/orders/sweep.js';
import { type JobCatalogue, type JobName, QUEUE_OF } from '../infra/queues/catalogue.js';

/** One handler per job of the catalogue; the compiler refuses a missing or extra one. */
export type Handlers = { [N in JobName]: (deps: CoreDeps, job: Job<JobCatalogue[N]>) => Promise<unknown> };

export const handlers: Handlers = {
  'close-order': (deps, job) =>
    closeOrder(deps, {
      orderId: job.data.orderId,
      goodsId: job.data.goodsId,
      lastAttempt: job.attemptsMade + 1 >= (job.opts.attempts ?? 1),
    }),
  'apply-payment': (deps, job) => applyPayment(deps, job.data),
  sweep: (deps) => sweep(deps),
};

/** Start-up check (the compile-time one cannot see jobs added by name at run time). */
export function assertCatalogueHandled(): void {
  for (const name of Object.keys(QUEUE_OF)) {
    if (typeof (handlers as Record<string, unknown>)[name] !== 'function') throw new Error(`job ${name} has no handler`);
  }
}
