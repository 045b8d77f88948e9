import type { CoreDeps } from '../deps.js';
import { DomainError, type DomainErrorCode, goodsNotFound } from '../errors.js';
import { ensureGoodsLoaded, parseGoodsId } from '../goods/goods-service.js';
import { MAX_GOODS_ID_DIGITS, type OrderIdGenerator } from './order-id.js';
import type { OrderView } from './order-view.js';
import { Transition } from './transition-codes.js';

const SOLD_OUT: [DomainErrorCode, string] = ['SOLD_OUT', 'sold out'];
const REFUSALS: Partial<Record<Transition, [DomainErrorCode, string]>> = {
  [Transition.NotOnSale]: ['NOT_ON_SALE', 'the goods is not on sale now'],
  [Transition.RepeatOrder]: ['REPEAT_ORDER', 'you already have an active order for this goods'],
  [Transition.SoldOut]: SOLD_OUT,
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
 * The sold-out crowd's answer from memory, built once: it carries nothing of the request (no
 * stack, no order), so one instance serves every refusal and a 409 allocates no error at all.
 */
const SOLD_OUT_FROM_MEMORY = refusalError(SOLD_OUT);

/**
 * The crowd behind the last unit, answered from memory (see sold-out.ts for how it stays true):
 * the refusal when this process knows the goods is sold out (counted like every refusal), else
 * undefined. One instance for every such answer, so callers can serialise it once.
 */
export function soldOutFromMemory(deps: CoreDeps, goodsId: string): DomainError | undefined {
  if (!deps.soldOut?.has(goodsId)) return undefined;
  deps.metrics.soldOutRefusals.inc();
  return SOLD_OUT_FROM_MEMORY;
}

/**
 * Grab one unit: the reserveOrder script does every check and the stock change atomically, and
 * in the same step queues the order's timer request, which the workers' timer pump turns into
 * the delayed job `timeout-<orderId>` (src/workers/timer-pump.ts). One Redis round trip (two for
 * the grab that finds the timers list empty), and no crash can separate an order from its timer.
 */
export async function reserveOrder(
  deps: CoreDeps,
  ids: OrderIdGenerator,
  buyerId: string,
  goodsId: string,
): Promise<OrderView> {
  if (parseGoodsId(goodsId) === undefined || goodsId.length > MAX_GOODS_ID_DIGITS) throw goodsNotFound(goodsId);
  const soldOut = soldOutFromMemory(deps, goodsId);
  if (soldOut) throw soldOut;
  const k = deps.keys.forGoods(goodsId);
  const windowMs = deps.config.orderTimeoutMs;

  const attempt = (orderId: string) =>
    deps.redis.reserveOrder(k.goods, k.stock, k.held, k.order(orderId), k.buyer(buyerId), k.timers, orderId, buyerId, goodsId, windowMs);
  let orderId = ids.next(goodsId);
  let reply = await attempt(orderId);
  for (let retries = 0; retries < 3; retries += 1) {
    if (reply[0] === Transition.GoodsNotLoaded) {
      // first grab after a Redis flush/restart, or goods unknown, or a retired sale's keys expired
      const loaded = await ensureGoodsLoaded(deps, goodsId);
      if (loaded === 'missing') throw goodsNotFound(goodsId);
      if (loaded === 'ended') {
        reply = [Transition.NotOnSale, 0, 0, 0, 0];
        break;
      }
    } else if (reply[0] !== Transition.OrderIdTaken) {
      break;
    }
    // (an id can only be taken if two processes drew the same order-id node number)
    orderId = ids.next(goodsId);
    reply = await attempt(orderId);
  }
  const [code, createTime, deadline, money, timersQueued] = reply;
  if (code !== Transition.Done) {
    if (code === Transition.SoldOut) deps.soldOut?.remember(goodsId, deadline); // (the sale's end, for SoldOut)
    const refusal = REFUSALS[code];
    deps.metrics.grabRejected.inc({ reason: refusal ? refusal[0] : `code_${code}` });
    if (refusal) throw refusalError(refusal);
    if (code === Transition.GoodsNotLoaded) throw goodsNotFound(goodsId);
    throw new Error(`reserveOrder returned unexpected code ${code}`);
  }
  // the first request in an empty timers list: tell the pump this goods has work. The order is
  // reserved already, so a failed add must not fail the grab: the pump's periodic walk over every
  // live goods finds the request anyway (as after a crash right here).
  if (timersQueued === 1) {
    await deps.redis.sadd(deps.keys.timerGoods, goodsId).catch((err: Error) => {
      deps.logger.warn({ goodsId, err: err.message }, 'grab: could not flag the timer request for the pump; its periodic walk will find it');
    });
  }
  deps.metrics.ordersReserved.inc();
  return {
    orderId,
    goodsId,
    money,
    status: 'UNPAID',
    createTime: new Date(createTime).toISOString(),
    deadline: new Date(deadline).toISOString(),
  };
}
