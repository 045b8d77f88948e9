import type { FastifyPluginAsync } from 'fastify';

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

export const healthRoutes: FastifyPluginAsync<HealthOptions> = async (app, opts) => {
  app.get('/health', { schema: { tags: ['ops'], summary: 'Liveness' } }, async () => ({ status: 'ok' }));

  app.get('/ready', { schema: { tags: ['ops'], summary: 'Readiness: Redis, MySQL, RabbitMQ; detail.persister: how far MySQL is behind (outbox depth, oldest entry age)' } }, async (_request, reply) => {
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

  app.get('/metrics', { schema: { tags: ['ops'], summary: 'Prometheus metrics' } }, async (_request, reply) =>
    reply.type('text/plain; version=0.0.4').send(await opts.metricsText()),
  );
};
