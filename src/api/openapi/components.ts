import { z } from 'zod';
import { REVIEW_OUTCOMES } from '../../domain/reviews/resolve-review.js';
import { DifferenceAction, DifferenceKind, ReconciliationStatus, ReviewKind, ReviewStatus } from '../../generated/prisma/enums.js';
import { API_ERROR_CODES } from '../http-errors.js';

/**
 * The API's response bodies, registered by id so the OpenAPI document names them once
 * (`components.schemas`) and each route refers to them. They describe what the domain returns
 * (src/domain/…-view types); test/api/openapi.test.ts checks real responses against them.
 */

const isoTime = z.iso.datetime().describe('ISO-8601 time (UTC)');
const decimalId = z.string().regex(/^\d+$/);
const fen = z.number().int().describe('amount in fen (1/100 CNY)');

export const ORDER_STATUSES = ['UNPAID', 'CLOSING', 'PAID', 'CLOSED', 'NEEDS_REVIEW'] as const;

export const Goods = z
  .object({
    id: decimalId.describe('goods id (decimal string)'),
    title: z.string(),
    price: fen,
    costPrice: fen.nullable(),
    stockCount: z.number().int().describe('durable stock: units not yet sold (MySQL)'),
    available: z.number().int().describe('live stock: units a buyer can grab now (Redis)'),
    startTime: isoTime,
    endTime: isoTime,
  })
  .meta({ id: 'Goods', description: 'Goods of a flash sale' });

export const Order = z
  .object({
    orderId: decimalId.describe('order id (decimal string), also WeChat out_trade_no'),
    goodsId: decimalId,
    money: fen,
    status: z.enum(ORDER_STATUSES),
    createTime: isoTime,
    deadline: isoTime.describe('end of the payment window: an UNPAID order closes itself then'),
    payTime: isoTime.optional(),
    closeReason: z.enum(['TIMEOUT', 'USER_CANCEL']).optional(),
    closeAfter: isoTime.optional().describe("CLOSING because of WeChat's 5-minute rule: the close may happen from then on"),
  })
  .meta({ id: 'Order', description: "A buyer's order" });

export const Payment = z
  .object({
    codeUrl: z.string().describe('weixin:// URL to show as a QR code (WeChat NATIVE payment)'),
    outTradeNo: decimalId.describe('the order id, as WeChat knows it'),
  })
  .meta({ id: 'Payment', description: 'The WeChat payment of an order (same on every call)' });

export const Closing = z
  .object({ orderId: decimalId, status: z.literal('CLOSING') })
  .meta({ id: 'Closing', description: 'Accepted: the order goes through the close path (closed at WeChat, then restocked); poll the order for the outcome' });

export const Review = z
  .object({
    orderId: decimalId,
    kind: z.enum(ReviewKind),
    reason: z.string(),
    status: z.enum(ReviewStatus),
    createdAt: isoTime,
    resolvedAt: isoTime.optional(),
    outcome: z.enum(REVIEW_OUTCOMES).optional(),
    refund: z.object({ outRefundNo: z.string(), status: z.string().describe('REQUESTED, PROCESSING, SUCCESS, or why it failed') }).optional().describe('late payments: our refund'),
    order: z.object({ goodsId: decimalId, userId: z.string(), money: fen, status: z.string() }),
  })
  .meta({ id: 'Review', description: 'An order a person must look at, and why' });

export const ResolvedReview = z
  .object({
    orderId: decimalId,
    outcome: z.enum(REVIEW_OUTCOMES),
    status: z.string().describe("the order's status after the resolution"),
    resolvedAt: isoTime,
  })
  .meta({ id: 'ResolvedReview', description: 'How a review was settled' });

const billDate = z.string().regex(/^\d{8}$/);
const side = z.object({
  payments: z.object({ count: z.number().int(), fee: fen }),
  refunds: z.object({ count: z.number().int(), fee: fen }),
});

export const Reconciliation = z
  .object({
    billDate: billDate.describe('Beijing day, yyyyMMdd'),
    status: z.enum(ReconciliationStatus),
    runs: z.number().int().describe('runs (and retries) started for this day'),
    failureReason: z.string().optional().describe('FAILED: why (a bad bill, WeChat refusing); RUNNING: the last retryable error'),
    startedAt: isoTime,
    finishedAt: isoTime.optional(),
    bill: side.describe("WeChat's bill: payments (订单金额) and refunds (申请退款金额)"),
    ours: side.describe('our records: payment events with time_end on the day, late-payment refunds asked for that day'),
    differences: z.array(
      z.object({
        kind: z.enum(DifferenceKind),
        ref: z.string().describe('the transaction_id or out_refund_no'),
        orderId: z.string(),
        billFee: fen.optional(),
        ourFee: fen.optional(),
        detail: z.string(),
        action: z.enum(DifferenceAction),
        outcome: z.string().optional(),
        foundAt: isoTime,
      }),
    ),
  })
  .meta({ id: 'Reconciliation', description: "T+1 reconciliation of one day against WeChat's bill" });

export const ReconciliationRequested = z
  .object({ billDate, state: z.enum(['QUEUED', 'ALREADY_QUEUED', 'RUNNING']) })
  .meta({ id: 'ReconciliationRequested', description: 'The run of a day was queued, or one is already waiting or running' });

export const Health = z.object({ status: z.literal('ok') }).meta({ id: 'Health', description: 'The process answers' });

export const Readiness = z
  .object({
    status: z.enum(['ready', 'not ready']),
    checks: z.record(z.string(), z.string()).describe('per backing service (redis, mysql, rabbitmq): "ok" or "down: <why>"'),
    detail: z.record(z.string(), z.unknown()).optional().describe("facts that do not decide readiness: persister = how far MySQL is behind Redis (outbox depth, oldest entry's age)"),
  })
  .meta({ id: 'Readiness', description: 'Whether every backing service answers' });

/** The contract's error body; each route's documentation narrows `code` to what it can return. */
export const ApiError = z
  .object({
    code: z.enum(API_ERROR_CODES),
    message: z.string().describe('for people; may change, unlike `code`'),
    fields: z.array(z.string()).optional().describe('VALIDATION_ERROR: the fields at fault'),
  })
  .meta({ id: 'Error', description: 'Every error of the API (5xx never carry internals)' });
