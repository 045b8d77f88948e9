import Fastify from 'fastify';
import { serveUntilStopped } from './server-child.js';

/**
 * Benchmark target "hello": the ceiling for the sold-out crowd — a hello-world Fastify route that
 * answers every grab with the same 409 SOLD_OUT body the real API sends, touching nothing (no
 * Redis, no JWT, no schema, no logger). `BENCH_STOCK=1 BENCH_TARGETS=full,hello` compares the
 * real API's sold-out answer with it.
 */
const body = JSON.stringify({ code: 'SOLD_OUT', message: 'sold out' });
const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
app.post('/seckill/orders', async (_request, reply) => reply.status(409).header('content-type', 'application/json; charset=utf-8').send(body));
await serveUntilStopped(app, async () => undefined);
