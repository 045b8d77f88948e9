import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { CoreDeps } from '../../domain/deps.js';
import type { OrderIdGenerator } from '../../domain/orders/order-id.js';
import { viewBuyerOrder } from '../../domain/orders/order-view.js';
import { reserveOrder, soldOutFromMemory } from '../../domain/orders/reserve.js';
import { payOrder } from '../../domain/orders/pay.js';
import { cancelOrder } from '../../domain/orders/cancel.js';
import type { DomainError } from '../../domain/errors.js';
import { DOMAIN_STATUS, domainErrorBody } from '../http-errors.js';
import { Closing, Order, Payment } from '../openapi/components.js';
import { requestExamples } from '../openapi/examples.js';
import { AUTH, BODY, PARAMS, SERVER, errors, json } from '../openapi/responses.js';

const grabBody = z
  .object({
    goodsId: z.union([z.string().regex(/^\d{1,20}$/, 'must be a decimal id'), z.number().int().positive()]).transform(String).describe('goods id (decimal string; a number is accepted)'),
  })
  .meta(requestExamples({ 'goods 1': { goodsId: '1' } }));
const orderParams = z.object({ orderId: z.string().max(32).describe('order id (decimal string, also WeChat out_trade_no)') });

/** The goods id a grab's body names, as the schema will read it; undefined if it names none. */
function goodsIdOf(body: unknown): string | undefined {
  const id = body !== null && typeof body === 'object' ? (body as { goodsId?: unknown }).goodsId : undefined;
  if (typeof id === 'string') return id;
  return Number.isSafeInteger(id) ? String(id) : undefined;
}

/** Refusals that are one shared instance (the sold-out memory's), serialised once each. */
const serialisedRefusals = new WeakMap<DomainError, string>();
function serialisedRefusal(refusal: DomainError): string {
  let text = serialisedRefusals.get(refusal);
  if (text === undefined) {
    text = JSON.stringify(domainErrorBody(refusal));
    serialisedRefusals.set(refusal, text);
  }
  return text;
}

export interface OrderRouteOptions {
  deps: CoreDeps;
  ids: OrderIdGenerator;
}

export const orderRoutes: FastifyPluginAsyncZod<OrderRouteOptions> = async (app, { deps, ids }) => {
  app.post('/seckill/orders', {
    onRequest: app.requireBuyer,
    // The sold-out crowd (most of a sale's traffic) is answered as soon as the buyer is
    // authenticated (401 comes first, by the contract) and the body parsed: the same 409 body
    // the error handler would send, without the schema, the handler, a thrown error and the
    // reply serialiser (BENCHMARKS.md, "The sold-out crowd"). A body the memory does not know
    // goes on to the schema as before, so every other answer is unchanged.
    preValidation: (request, reply, done) => {
      const goodsId = goodsIdOf(request.body);
      const refusal = goodsId === undefined ? undefined : soldOutFromMemory(deps, goodsId);
      // (already JSON: the typed reply would take only the schema's object)
      if (refusal) (reply as unknown as FastifyReply).status(DOMAIN_STATUS[refusal.code]).type('application/json; charset=utf-8').send(serialisedRefusal(refusal));
      else done();
    },
    schema: {
      tags: ['buyer'],
      summary: 'Grab one unit: creates an UNPAID order with its payment deadline',
      body: grabBody,
      security: [{ bearer: [] }],
      response: { 201: json(Order, 'The order: UNPAID, closed by itself at its deadline unless paid'), ...errors(AUTH, BODY, 'GOODS_NOT_FOUND', 'SOLD_OUT', 'REPEAT_ORDER', 'NOT_ON_SALE', SERVER) },
    },
  }, async (request, reply) => reply.status(201).send(await reserveOrder(deps, ids, request.buyerId, request.body.goodsId)));

  app.get('/seckill/orders/:orderId', {
    onRequest: app.requireBuyer,
    schema: {
      tags: ['buyer'],
      summary: "One of the buyer's orders (404 for other buyers' orders)",
      params: orderParams,
      security: [{ bearer: [] }],
      response: { 200: json(Order, 'The order, live or final'), ...errors(AUTH, PARAMS, 'ORDER_NOT_FOUND', SERVER) },
    },
  }, async (request) => viewBuyerOrder(deps, request.buyerId, request.params.orderId));

  app.post('/seckill/orders/:orderId/pay', {
    onRequest: app.requireBuyer,
    schema: {
      tags: ['buyer'],
      summary: 'WeChat NATIVE payment for an UNPAID order: the QR code URL (same on every call)',
      params: orderParams,
      security: [{ bearer: [] }],
      response: {
        200: json(Payment, 'The payment to show the buyer'),
        ...errors(AUTH, BODY, 'ORDER_NOT_FOUND', 'ORDER_NOT_PAYABLE', 'PAYMENT_PROVIDER_ERROR', 'PAYMENT_PROVIDER_UNAVAILABLE', SERVER),
      },
    },
  }, async (request) => payOrder(deps, request.buyerId, request.params.orderId));

  app.post('/seckill/orders/:orderId/cancel', {
    onRequest: app.requireBuyer,
    schema: {
      tags: ['buyer'],
      summary: 'Cancel an UNPAID order: closed at WeChat, then the unit goes back on sale',
      params: orderParams,
      security: [{ bearer: [] }],
      response: { 202: json(Closing, 'Accepted: the order is CLOSING (closeReason USER_CANCEL)'), ...errors(AUTH, BODY, 'ORDER_NOT_FOUND', 'ORDER_NOT_CANCELLABLE', SERVER) },
    },
  }, async (request, reply) => reply.status(202).send(await cancelOrder(deps, request.buyerId, request.params.orderId)));
};
