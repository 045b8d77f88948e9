import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { SandboxCore } from './core.js';
import { applyRefund } from './endpoints.js';
import { faultsPatchSchema } from './faults.js';
import { orderView, type SandboxOrder } from './store.js';

/**
 * The sandbox-only control API (JSON), for tests and demos; nothing like it exists at WeChat.
 *
 *   POST /sandbox/pay        {out_trade_no, concurrent?, duplicates?}  the buyer pays; notify
 *   POST /sandbox/notify     {out_trade_no, concurrent?, duplicates?}  notify a paid order again
 *   POST /sandbox/pay-error  {out_trade_no}   NOTPAY → PAYERROR (no notification)
 *   POST /sandbox/refund     {out_trade_no, refund_fee?, out_refund_no?}  a refund made elsewhere
 *                            (e.g. on the merchant platform): same rules as /secapi/pay/refund
 *   GET  /sandbox/orders/:outTradeNo          one order with its refunds, 404 when unknown
 *   GET  /sandbox/ledger                      {paid, closed, notifications, refunds}
 *   GET  /sandbox/faults, POST /sandbox/faults (partial update; answers the full set)
 *   GET  /sandbox/clock, POST /sandbox/clock {offset_ms}  the sandbox's clock, shifted (bills of past days)
 *   POST /sandbox/reset                       orders, ledger, faults and pending notifications
 *   GET  /sandbox/health
 *
 * Refusals are `409 {code, message}` with WeChat's err_code names; bad input `400`.
 */
const outTradeNo = z.string().min(1).max(32);
const deliverySchema = z
  .object({
    out_trade_no: outTradeNo,
    concurrent: z.number().int().min(1).max(20).optional(),
    duplicates: z.number().int().min(0).max(20).optional(),
  })
  .strict();
const orderRefSchema = z.object({ out_trade_no: outTradeNo }).strict();
const refundSchema = z
  .object({
    out_trade_no: outTradeNo,
    /** Default: all that is left to refund. */
    refund_fee: z.number().int().min(1).optional(),
    /** Default: a fresh `SANDBOX-…` number. */
    out_refund_no: z.string().regex(/^[0-9A-Za-z_\-|*@]{1,64}$/).optional(),
  })
  .strict();

/** Up to 100 days either way: enough to put activity on any day WeChat keeps a bill of. */
const clockSchema = z.object({ offset_ms: z.number().int().min(-100 * 86_400_000).max(100 * 86_400_000) }).strict();

export function controlRoutes(core: SandboxCore) {
  return async function register(app: FastifyInstance): Promise<void> {
    app.get('/sandbox/health', async () => ({ ok: true, appid: core.merchant.appId, mch_id: core.merchant.mchId, time_scale: core.timeScale }));

    app.post('/sandbox/pay', async (req, reply) => {
      const input = parse(deliverySchema, req.body, reply);
      if (!input) return reply;
      const order = core.store.get(input.out_trade_no);
      const refusal = refusePayment(order);
      if (refusal || !order) return conflict(reply, refusal ?? ['ORDERNOTEXIST', 'unknown out_trade_no']);
      core.pay(order, 'pay', input);
      return { out_trade_no: order.outTradeNo, transaction_id: order.transactionId, total_fee: order.totalFee, time_end: order.timeEnd };
    });

    app.post('/sandbox/notify', async (req, reply) => {
      const input = parse(deliverySchema, req.body, reply);
      if (!input) return reply;
      const order = core.store.get(input.out_trade_no);
      if (!order) return conflict(reply, ['ORDERNOTEXIST', 'unknown out_trade_no']);
      if (order.state !== 'SUCCESS') return conflict(reply, ['NOTPAID', `order is ${order.state}; only SUCCESS orders are notified`]);
      core.notify(order, input);
      return { out_trade_no: order.outTradeNo, transaction_id: order.transactionId };
    });

    app.post('/sandbox/pay-error', async (req, reply) => {
      const input = parse(orderRefSchema, req.body, reply);
      if (!input) return reply;
      const order = core.store.get(input.out_trade_no);
      if (!order) return conflict(reply, ['ORDERNOTEXIST', 'unknown out_trade_no']);
      if (order.state !== 'NOTPAY') return conflict(reply, ['INVALID_STATE', `order is ${order.state}`]);
      core.store.markPayError(order);
      return orderView(order, core.now());
    });

    // The same rules as /secapi/pay/refund, so refundquery, the ledger and later refunds see it.
    app.post('/sandbox/refund', async (req, reply) => {
      const input = parse(refundSchema, req.body, reply);
      if (!input) return reply;
      const order = core.store.get(input.out_trade_no);
      if (!order) return conflict(reply, ['ORDERNOTEXIST', 'unknown out_trade_no']);
      const now = core.now();
      const outcome = applyRefund(
        core.store,
        order,
        {
          outRefundNo: input.out_refund_no ?? `SANDBOX-${randomBytes(12).toString('hex')}`,
          totalFee: order.totalFee,
          refundFee: input.refund_fee ?? Math.max(order.totalFee - core.store.refundedFee(order), 1),
          refundAccount: 'REFUND_SOURCE_UNSETTLED_FUNDS',
          refundDesc: undefined,
          notifyUrl: undefined,
          via: 'control',
        },
        now,
      );
      if (!outcome.ok) return conflict(reply, [outcome.errCode, outcome.errCodeDes]);
      return orderView(order, now);
    });

    app.get<{ Params: { outTradeNo: string } }>('/sandbox/orders/:outTradeNo', async (req, reply) => {
      const order = core.store.get(req.params.outTradeNo);
      if (!order) return reply.code(404).send({ code: 'ORDERNOTEXIST', message: 'unknown out_trade_no' });
      return orderView(order, core.now());
    });

    app.get('/sandbox/ledger', async () => core.store.ledger());

    app.get('/sandbox/clock', async () => ({ offset_ms: core.clockOffsetMs, now: core.now().toISOString() }));
    app.post('/sandbox/clock', async (req, reply) => {
      const input = parse(clockSchema, req.body, reply);
      if (!input) return reply;
      core.clockOffsetMs = input.offset_ms;
      return { offset_ms: core.clockOffsetMs, now: core.now().toISOString() };
    });

    app.get('/sandbox/faults', async () => core.faults);
    app.post('/sandbox/faults', async (req, reply) => {
      const patch = parse(faultsPatchSchema, req.body ?? {}, reply);
      if (!patch) return reply;
      return core.updateFaults(patch);
    });

    app.post('/sandbox/reset', async () => {
      core.reset();
      return { ok: true };
    });
  };
}

/** Why the buyer cannot pay this order, in WeChat's words; undefined when payable. */
function refusePayment(order: SandboxOrder | undefined): [string, string] | undefined {
  if (!order) return ['ORDERNOTEXIST', 'unknown out_trade_no'];
  if (order.state === 'CLOSED') return ['ORDERCLOSED', 'the order is closed and can never be paid'];
  if (order.state === 'SUCCESS' || order.state === 'REFUND') return ['ORDERPAID', 'the order is already paid'];
  return undefined;
}

function parse<S extends z.ZodType>(schema: S, body: unknown, reply: FastifyReply): z.infer<S> | undefined {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  void reply.code(400).send({ code: 'INVALID_INPUT', message: z.prettifyError(parsed.error) });
  return undefined;
}

function conflict(reply: FastifyReply, [code, message]: [string, string]) {
  return reply.code(409).send({ code, message });
}
