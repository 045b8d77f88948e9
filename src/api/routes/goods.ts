import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { CoreDeps } from '../../domain/deps.js';
import { createGoods, getGoods, listGoodsOnSale } from '../../domain/goods/goods-service.js';
import { Goods } from '../openapi/components.js';
import { requestExamples } from '../openapi/examples.js';
import { AUTH, BODY, PARAMS, SERVER, errors, json } from '../openapi/responses.js';

const isoTime = z.iso.datetime({ offset: true }).describe('ISO-8601 time, e.g. 2026-11-26T12:00:00+08:00');
const fen = z.number().int().positive().max(100_000_000).describe('amount in fen (1/100 CNY)');

const newGoods = z
  .object({
    title: z.string().trim().min(1).max(200),
    price: fen,
    costPrice: fen.optional(),
    stockCount: z.number().int().positive().max(10_000_000),
    startTime: isoTime,
    endTime: isoTime,
  })
  .refine((g) => Date.parse(g.endTime) > Date.parse(g.startTime), { path: ['endTime'], message: 'must be after startTime' })
  .meta(
    requestExamples({
      'half-hour sale': { title: 'Phone 16 Pro', price: 99_900, costPrice: 799_900, stockCount: 100, startTime: '2026-11-11T10:00:00+08:00', endTime: '2026-11-11T10:30:00+08:00' },
    }),
  );

const idParams = z.object({ id: z.string().max(20).describe('goods id (decimal string)') });

export const goodsRoutes: FastifyPluginAsyncZod<{ deps: CoreDeps }> = async (app, { deps }) => {
  app.post('/admin/seckill/goods', {
    onRequest: app.requireAdmin,
    schema: {
      tags: ['admin'],
      summary: 'Create goods; on sale in its window at once',
      body: newGoods,
      security: [{ basic: [] }],
      response: { 201: json(Goods, 'The goods, with its id'), ...errors(AUTH, BODY, SERVER) },
    },
  }, async (request, reply) => {
    const body = request.body;
    const goods = await createGoods(deps, { ...body, startTime: new Date(body.startTime), endTime: new Date(body.endTime) });
    return reply.status(201).send(goods);
  });

  app.get('/admin/seckill/goods/:id', {
    onRequest: app.requireAdmin,
    schema: {
      tags: ['admin'],
      summary: 'Goods with durable stockCount and live available',
      params: idParams,
      security: [{ basic: [] }],
      response: { 200: json(Goods, 'The goods'), ...errors(AUTH, PARAMS, 'GOODS_NOT_FOUND', SERVER) },
    },
  }, async (request) => getGoods(deps, request.params.id));

  app.get('/seckill/goods', {
    schema: {
      tags: ['buyer'],
      summary: 'Goods on sale now, with live availability',
      response: { 200: json(z.array(Goods), 'Goods whose sale window is open now'), ...errors(SERVER) },
    },
  }, async () => listGoodsOnSale(deps));

  app.get('/seckill/goods/:id', {
    schema: {
      tags: ['buyer'],
      summary: 'One goods',
      params: idParams,
      response: { 200: json(Goods, 'The goods'), ...errors(PARAMS, 'GOODS_NOT_FOUND', SERVER) },
    },
  }, async (request) => getGoods(deps, request.params.id));
};
