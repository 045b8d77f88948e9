import { goodsIdOfOrder, isOrderId } from '../orders/order-id.js';
import type { CloseReason } from '../orders/transition-codes.js';
import type { ReviewKind } from '../orders/transitions.js';

/**
 * What the persister writes for one outbox entry, read from the order hash (the hash is the
 * source of truth; the entry only says "this order has news"). Pure parsing, no I/O: a hash that
 * does not make sense (edited by hand, half deleted) is reported, never guessed at.
 */

export type PersistedStatus = 'PAID' | 'CLOSED' | 'NEEDS_REVIEW';

export interface OutboxPayment {
  transactionId: string;
  totalFee: number;
  resultCode: string;
  timeEnd: string | null;
  /** the notification's fields exactly as received */
  payload: Record<string, string>;
}

export interface OutboxRecord {
  orderId: string;
  goodsId: string;
  /** the hash's outboxVersion when read (the ack removes the entry only if it is unchanged) */
  version: string;
  /**
   * What MySQL gets. `undefined` for an order that is not final any more (an admin retry moved
   * a NEEDS_REVIEW order back to CLOSING): nothing to write now, its next final state is
   * appended again and carries everything recorded on it.
   */
  status: PersistedStatus | undefined;
  userId: string;
  money: number;
  createTime: number;
  deadline: number;
  payTime: number | null;
  transactionId: string | null;
  closedAt: number | null;
  closeReason: CloseReason | null;
  reviewReason: string | null;
  reviews: OutboxReview[];
  payments: OutboxPayment[];
}

export type ReviewOutcome = 'RESTOCK' | 'SOLD' | 'REFUNDED';

export interface OutboxReview {
  kind: ReviewKind;
  reason: string;
  /** set once a person resolved it (`resolved:<kind>` = `<outcome>:<ms>` on the hash) */
  resolution?: { outcome: ReviewOutcome; at: number };
}

export type ParsedEntry = { ok: true; record: OutboxRecord } | { ok: false; reason: string };

const REVIEW_KINDS: readonly string[] = ['CLOSE_FAILED', 'AMOUNT_MISMATCH', 'PAID_AFTER_CLOSE', 'UNKNOWN_ORDER'] satisfies ReviewKind[];
const OUTCOMES: readonly string[] = ['RESTOCK', 'SOLD', 'REFUNDED'] satisfies ReviewOutcome[];

function parseResolution(value: string | undefined): OutboxReview['resolution'] | string | undefined {
  if (value === undefined) return undefined;
  const [outcome, at] = value.split(':');
  const ms = int(at);
  if (!outcome || !OUTCOMES.includes(outcome) || ms === undefined) return `unreadable review resolution "${value.slice(0, 40)}"`;
  return { outcome: outcome as ReviewOutcome, at: ms };
}
const CLOSE_REASONS: readonly string[] = ['TIMEOUT', 'USER_CANCEL'] satisfies CloseReason[];
const TRANSACTION_ID = /^\d{1,32}$/;

const int = (value: string | undefined): number | undefined => (value !== undefined && /^-?\d{1,16}$/.test(value) ? Number(value) : undefined);

function parsePayment(transactionId: string, json: string): OutboxPayment | string {
  if (!TRANSACTION_ID.test(transactionId)) return `payment field for transaction "${transactionId}" is not a transaction id`;
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return `payment ${transactionId} is not JSON`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `payment ${transactionId} is not a JSON object`;
  const payload = value as Record<string, unknown>;
  if (!Object.values(payload).every((v) => typeof v === 'string')) return `payment ${transactionId} has non-string fields`;
  const fields = payload as Record<string, string>;
  const totalFee = int(fields.total_fee);
  if (totalFee === undefined || totalFee < 0) return `payment ${transactionId} has no integer total_fee`;
  return {
    transactionId,
    totalFee,
    resultCode: (fields.result_code ?? '').slice(0, 16),
    timeEnd: fields.time_end?.slice(0, 14) ?? null,
    payload: fields,
  };
}

/** Parse one outbox entry of goods `goodsId` with its order hash (HGETALL; `{}` if missing). */
export function parseOutboxEntry(entry: string, goodsId: string, hash: Record<string, string>): ParsedEntry {
  const fail = (reason: string): ParsedEntry => ({ ok: false, reason });
  if (!isOrderId(entry) || goodsIdOfOrder(entry) !== goodsId) return fail(`"${entry.slice(0, 40)}" is not an order id of goods ${goodsId}`);
  if (Object.keys(hash).length === 0) return fail('the order hash is gone');
  if (hash.orderId !== entry || hash.goodsId !== goodsId) return fail('the order hash names another order or goods');
  const version = hash.outboxVersion;
  if (!version) return fail('the order hash has no outboxVersion');
  const money = int(hash.money);
  const createTime = int(hash.createTime);
  const deadline = int(hash.deadline);
  if (!hash.userId || money === undefined || createTime === undefined || deadline === undefined) {
    return fail('the order hash lacks userId, money, createTime or deadline');
  }

  const reviews: OutboxReview[] = [];
  const payments: OutboxPayment[] = [];
  for (const [field, value] of Object.entries(hash)) {
    if (field.startsWith('review:')) {
      const kind = field.slice('review:'.length);
      if (!REVIEW_KINDS.includes(kind)) return fail(`unknown review kind ${kind}`);
      const resolution = parseResolution(hash[`resolved:${kind}`]);
      if (typeof resolution === 'string') return fail(resolution);
      reviews.push({ kind: kind as ReviewKind, reason: value.slice(0, 1000) || kind, ...(resolution ? { resolution } : {}) });
    } else if (field.startsWith('payment:')) {
      const payment = parsePayment(field.slice('payment:'.length), value);
      if (typeof payment === 'string') return fail(payment);
      payments.push(payment);
    }
  }

  let status: PersistedStatus | undefined;
  const payTime = int(hash.payTime) ?? null;
  const closedAt = int(hash.closedAt) ?? null;
  const closeReason = hash.closeReason && CLOSE_REASONS.includes(hash.closeReason) ? (hash.closeReason as CloseReason) : null;
  switch (hash.status) {
    case 'PAID':
      // a review resolved as SOLD makes an order PAID without a transaction of its own
      if (payTime === null || (hash.transactionId !== undefined && !TRANSACTION_ID.test(hash.transactionId))) return fail('a PAID order without payTime, or with a malformed transactionId');
      if (hash.transactionId === undefined && !reviews.some((r) => r.resolution?.outcome === 'SOLD')) return fail('a PAID order without transactionId');
      status = 'PAID';
      break;
    case 'CLOSED':
      if (closedAt === null) return fail('a CLOSED order without closedAt');
      status = 'CLOSED';
      break;
    case 'NEEDS_REVIEW':
      // an order recorded in review before the review kinds were kept on the hash
      if (reviews.length === 0) reviews.push({ kind: 'CLOSE_FAILED', reason: (hash.reviewReason ?? 'close failed').slice(0, 1000) });
      status = 'NEEDS_REVIEW';
      break;
    case 'UNPAID':
    case 'CLOSING':
      status = undefined;
      break;
    default:
      return fail(`unknown status ${String(hash.status)}`);
  }

  return {
    ok: true,
    record: {
      orderId: entry,
      goodsId,
      version,
      status,
      userId: hash.userId,
      money,
      createTime,
      deadline,
      payTime: status === 'PAID' ? payTime : null,
      transactionId: status === 'PAID' ? (hash.transactionId ?? null) : null,
      closedAt: status === 'CLOSED' ? closedAt : null,
      closeReason: status === 'CLOSED' ? (closeReason ?? 'TIMEOUT') : null,
      reviewReason: status === 'NEEDS_REVIEW' ? (hash.reviewReason ?? reviews[0]?.reason ?? '').slice(0, 500) : null,
      reviews,
      payments,
    },
  };
}
