import type { CoreDeps } from '../deps.js';
import { orderNotFound } from '../errors.js';
import { lookUpOnView } from '../payments/lookup.js';
import { goodsIdOfOrder, isOrderId } from './order-id.js';
import type { CloseReason, OrderStatus } from './transition-codes.js';

/** An order as the buyer API returns it (docs/contract.md). */
export interface OrderView {
  orderId: string;
  goodsId: string;
  money: number;
  status: OrderStatus;
  createTime: string;
  deadline: string;
  payTime?: string;
  closeReason?: CloseReason;
  /** CLOSING only: closeorder waits until then (WeChat's 5-minute rule, design §7) */
  closeAfter?: string;
}

/** The live order hash in Redis, as written by the Lua transitions. */
export interface LiveOrder {
  orderId: string;
  goodsId: string;
  userId: string;
  money: number;
  status: OrderStatus;
  createTime: number;
  deadline: number;
  closeReason?: CloseReason;
  closedAt?: number;
  payTime?: number;
  transactionId?: string;
  reviewReason?: string;
  /** when /pay's WeChat order was created (an upper bound), for the 5-minute rule */
  wechatOrderAt?: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function parseLiveOrder(hash: Record<string, string>): LiveOrder | undefined {
  if (!hash.orderId || !hash.status) return undefined;
  return {
    orderId: hash.orderId,
    goodsId: hash.goodsId ?? '',
    userId: hash.userId ?? '',
    money: Number(hash.money),
    status: hash.status as OrderStatus,
    createTime: Number(hash.createTime),
    deadline: Number(hash.deadline),
    ...(hash.closeReason ? { closeReason: hash.closeReason as CloseReason } : {}),
    ...(hash.closedAt ? { closedAt: Number(hash.closedAt) } : {}),
    ...(hash.payTime ? { payTime: Number(hash.payTime) } : {}),
    ...(hash.transactionId ? { transactionId: hash.transactionId } : {}),
    ...(hash.reviewReason ? { reviewReason: hash.reviewReason } : {}),
    ...(hash.wechatOrderAt ? { wechatOrderAt: Number(hash.wechatOrderAt) } : {}),
  };
}

/** `closeMinAgeMs`: WECHAT_CLOSE_MIN_AGE_MS, to tell a CLOSING order's buyer when the close may happen. */
export function liveOrderView(order: LiveOrder, closeMinAgeMs?: number, now = Date.now()): OrderView {
  const closeAfter = order.status === 'CLOSING' && order.wechatOrderAt !== undefined && closeMinAgeMs !== undefined ? order.wechatOrderAt + closeMinAgeMs : undefined;
  return {
    orderId: order.orderId,
    goodsId: order.goodsId,
    money: order.money,
    status: order.status,
    createTime: iso(order.createTime),
    deadline: iso(order.deadline),
    ...(order.payTime ? { payTime: iso(order.payTime) } : {}),
    ...(order.closeReason ? { closeReason: order.closeReason } : {}),
    ...(closeAfter !== undefined && closeAfter > now ? { closeAfter: iso(closeAfter) } : {}),
  };
}

type Deps = Pick<CoreDeps, 'redis' | 'keys' | 'prisma'> & { config?: Pick<CoreDeps['config'], 'wechat'> };

/** The MySQL record of an order that has left Redis, in the live order's shape. */
export interface FinalOrderRow {
  id: string;
  goodsId: bigint;
  userId: string;
  money: number;
  status: OrderStatus;
  createTime: Date;
  deadline: Date;
  payTime: Date | null;
  transactionId: string | null;
  closedAt: Date | null;
  closeReason: CloseReason | null;
}

export function liveOrderFromRow(row: FinalOrderRow): LiveOrder {
  return {
    orderId: row.id,
    goodsId: row.goodsId.toString(),
    userId: row.userId,
    money: row.money,
    status: row.status,
    createTime: row.createTime.getTime(),
    deadline: row.deadline.getTime(),
    ...(row.payTime ? { payTime: row.payTime.getTime() } : {}),
    ...(row.transactionId ? { transactionId: row.transactionId } : {}),
    ...(row.closedAt ? { closedAt: row.closedAt.getTime() } : {}),
    ...(row.closeReason ? { closeReason: row.closeReason } : {}),
  };
}

/** Read a live order from Redis by id alone (the id carries its goods id). */
export async function readLiveOrder(deps: Deps, orderId: string): Promise<LiveOrder | undefined> {
  const goodsId = goodsIdOfOrder(orderId);
  if (!goodsId) return undefined;
  return parseLiveOrder(await deps.redis.hgetall(deps.keys.forGoods(goodsId).order(orderId)));
}

/**
 * The buyer's GET: their order, after asking WeChat about it if it is UNPAID with a WeChat order
 * (a lost notification shows up here, design §7; rate-limited per order).
 */
export async function viewBuyerOrder(deps: CoreDeps, buyerId: string, orderId: string): Promise<OrderView> {
  if (!isOrderId(orderId)) throw orderNotFound(orderId);
  const live = await readLiveOrder(deps, orderId);
  // another buyer's order never triggers a lookup (buyerView answers 404 for it)
  if (live?.userId === buyerId && (await lookUpOnView(deps, live))) return getBuyerOrder(deps, buyerId, orderId);
  return buyerView(deps, buyerId, orderId, live);
}

const PAYMENT_CHECK_FIELDS = ['orderId', 'goodsId', 'userId', 'money', 'status', 'createTime', 'deadline'] as const;

/**
 * The live order fields the payment path needs (HMGET): not the recorded payment payloads and
 * reviews HGETALL would also bring back.
 */
export async function readLiveOrderForPayment(deps: Deps, orderId: string): Promise<LiveOrder | undefined> {
  const goodsId = goodsIdOfOrder(orderId);
  if (!goodsId) return undefined;
  const values = await deps.redis.hmget(deps.keys.forGoods(goodsId).order(orderId), ...PAYMENT_CHECK_FIELDS);
  const hash: Record<string, string> = {};
  PAYMENT_CHECK_FIELDS.forEach((field, i) => {
    const value = values[i];
    if (value !== null && value !== undefined) hash[field] = value;
  });
  return parseLiveOrder(hash);
}

/**
 * The buyer's view of one order: from Redis while it is live, from MySQL once it is final and
 * has left Redis. Another buyer's order is reported exactly like an unknown one.
 */
export async function getBuyerOrder(deps: Deps, buyerId: string, orderId: string): Promise<OrderView> {
  if (!isOrderId(orderId)) throw orderNotFound(orderId);
  return buyerView(deps, buyerId, orderId, await readLiveOrder(deps, orderId));
}

/** getBuyerOrder with the live order already read (undefined: not in Redis). */
async function buyerView(deps: Deps, buyerId: string, orderId: string, live: LiveOrder | undefined): Promise<OrderView> {
  if (live) {
    if (live.userId !== buyerId) throw orderNotFound(orderId);
    return liveOrderView(live, deps.config?.wechat.closeMinAgeMs);
  }
  const row = await deps.prisma.seckillOrder.findUnique({ where: { id: orderId } });
  if (!row || row.userId !== buyerId) throw orderNotFound(orderId);
  return liveOrderView(liveOrderFromRow(row));
}
