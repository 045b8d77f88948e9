import type { CoreDeps } from '../deps.js';
import { DomainError, type DomainErrorCode, goodsNotFound } from '../errors.js';
import { ensureGoodsLoaded, parseGoodsId } from '../goods/goods-service.js';
import type { OrderIdGenerator } from './order-id.js';
import type { OrderView } from './order-view.js';
import { Transition } from './transition-codes.js';

/** How long the order → goods index outlives the payment window (final orders are in MySQL). */
const INDEX_GRACE_SECONDS = 7 * 24 * 3600;

const REFUSALS: Partial<Record<Transition, [DomainErrorCode, string]>> = {
  [Transition.NotOnSale]: ['NOT_ON_SALE', 'the goods is not on sale now'],
  [Transition.RepeatOrder]: ['REPEAT_ORDER', 'you already have an active order for this goods'],
  [Transition.SoldOut]: ['SOLD_OUT', 'sold out'],
};

/**
 * A refusal is the flash sale's commonest answer (the crowd behind the last unit gets SOLD_OUT)
 * and an expected one: its stack trace says nothing, yet capturing it through the async call
 * chain costs ≈6 µs, the largest single item of a 409 in the API (`BENCH_STOCK=1 npm run
 * bench:grab` with BENCH_PROFILE=1). The limit is restored before anything else can run.
 */
function refusalError([code, message]: [DomainErrorCode, string]): DomainError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new DomainError(code, message);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * Grab one unit: the reserveOrder script does every check and the stock change atomically;
 * then the order's timeout job is added. If that add fails (or this process dies first) the
 * sweeper finds the order in the held index and schedules it, so no unit is held forever.
 */
export async function reserveOrder(
  deps: CoreDeps,
  ids: OrderIdGenerator,
  buyerId: string,
  goodsId: string,
): Promise<OrderView> {
  if (parseGoodsId(goodsId) === undefined) throw goodsNotFound(goodsId);
  const k = deps.keys.forGoods(goodsId);
  const windowMs = deps.config.orderTimeoutMs;

  const attempt = (orderId: string) =>
    deps.redis.reserveOrder(k.goods, k.stock, k.held, k.order(orderId), k.buyer(buyerId), orderId, buyerId, goodsId, windowMs);
  let orderId = ids.next();
  let reply = await attempt(orderId);
  for (let retries = 0; retries < 3; retries += 1) {
    if (reply[0] === Transition.GoodsNotLoaded) {
      // first grab after a Redis flush/restart, or goods unknown
      if (!(await ensureGoodsLoaded(deps, goodsId))) throw goodsNotFound(goodsId);
    } else if (reply[0] !== Transition.OrderIdTaken) {
      break;
    }
    // (an id can only be taken if two processes drew the same order-id node number)
    orderId = ids.next();
    reply = await attempt(orderId);
  }
  const [code, createTime, deadline, money] = reply;
  if (code !== Transition.Done) {
    const refusal = REFUSALS[code];
    deps.metrics.grabRejected.inc({ reason: refusal ? refusal[0] : `code_${code}` });
    if (refusal) throw refusalError(refusal);
    if (code === Transition.GoodsNotLoaded) throw goodsNotFound(goodsId);
    throw new Error(`reserveOrder returned unexpected code ${code}`);
  }
  deps.metrics.ordersReserved.inc();

  const ttl = Math.ceil(windowMs / 1000) + INDEX_GRACE_SECONDS;
  const [indexed, scheduled] = await Promise.allSettled([
    deps.redis.set(deps.keys.orderIndex(orderId), goodsId, 'EX', ttl),
    deps.queues.scheduleClose({ orderId, goodsId }, deadline - Date.now()),
  ]);
  for (const result of [indexed, scheduled]) {
    if (result.status === 'rejected') {
      deps.logger.warn({ orderId, err: (result.reason as Error).message }, 'order reserved but index/timer write failed; the sweeper will repair it');
    }
  }
  return {
    orderId,
    goodsId,
    money,
    status: 'UNPAID',
    createTime: new Date(createTime).toISOString(),
    deadline: new Date(deadline).toISOString(),
  };
}
