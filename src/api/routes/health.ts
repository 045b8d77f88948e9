import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { Health, Readiness } from '../openapi/components.js';
import { errors, json, text } from '../openapi/responses.js';

export interface ReadinessCheck {
  name: string;
  check: () => Promise<void>;
}

/** Liveness (the process answers) and readiness (every backing service answers). */
export interface HealthOptions {
  checks: ReadinessCheck[];
  /** extra facts for /ready's `detail` that do not decide readiness (e.g. the persister's lag) */
  detail?: () => Promise<Record<string, unknown>>;
  metricsText: () => Promise<string>;
}

const withTimeout = <T>(work: Promise<T>, ms: number) =>
  Promise.race([work, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms))]);

export const healthRoutes: FastifyPluginAsyncZod<HealthOptions> = async (app, opts) => {
  app.get('/health', {
    schema: { tags: ['ops'], summary: 'Liveness', response: { 200: json(Health, 'The process answers'), ...errors('INTERNAL_ERROR') } },
  }, async () => ({ status: 'ok' as const }));

  app.get('/ready', {
    schema: {
      tags: ['ops'],
      summary: 'Readiness: Redis, MySQL, RabbitMQ; detail.persister: how far MySQL is behind (outbox depth, oldest entry age)',
      response: { 200: json(Readiness, 'Ready: every backing service answers'), 503: json(Readiness, 'Not ready: the checks say which service is down'), ...errors('INTERNAL_ERROR') },
    },
  }, async (_request, reply) => {
    const results = await Promise.all(
      opts.checks.map(async ({ name, check }) => {
        try {
          await withTimeout(check(), 2_000);
          return [name, 'ok'] as const;
        } catch (err) {
          return [name, `down: ${(err as Error).message}`] as const;
        }
      }),
    );
    const ready = results.every(([, state]) => state === 'ok');
    const detail = opts.detail ? await withTimeout(opts.detail(), 2_000).catch((err: Error) => ({ error: err.message })) : undefined;
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks: Object.fromEntries(results), ...(detail ? { detail } : {}) });
  });

  app.get('/metrics', {
    schema: {
      tags: ['ops'],
      summary: "Prometheus metrics of this API process (each worker serves its own; see docs/metrics.md)",
      response: { 200: text('text/plain', 'Prometheus text exposition format 0.0.4'), ...errors('INTERNAL_ERROR') },
    },
  }, async (_request, reply) =>
    reply.type('text/plain; version=0.0.4').send(await opts.metricsText()),
  );
};
