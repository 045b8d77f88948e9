import type { RedisClient } from '../../infra/redis/client.js';

/**
 * Order ids: the goods id followed by a 63-bit snowflake zero-padded to 19 digits, one decimal
 * string of at most 32 digits (a valid WeChat out_trade_no). Carrying the goods id lets anyone
 * find the order's Redis keys (all under the goods' hash tag) from the id alone, with no index.
 *   snowflake = 41 bits ms since 2024-01-01 | 10 bits node | 12 bits sequence
 * The node number comes from a Redis counter at start-up, so API instances never collide
 * (1024 live processes at most share a millisecond space). Ids grow with time, which keeps
 * MySQL's primary-key inserts append-only.
 */
const EPOCH_MS = Date.UTC(2024, 0, 1);
const NODE_BITS = 10n;
const SEQ_BITS = 12n;
const MAX_SEQ = (1 << Number(SEQ_BITS)) - 1;

export class OrderIdGenerator {
  private lastMs = 0;
  private sequence = 0;

  constructor(private readonly node: number) {
    if (!Number.isInteger(node) || node < 0 || node >= 1 << Number(NODE_BITS)) throw new RangeError(`order-id node ${node} out of range`);
  }

  next(goodsId: string): string {
    // never go backwards, even if the wall clock does
    let now = Math.max(Date.now(), this.lastMs);
    if (now === this.lastMs) {
      this.sequence += 1;
      if (this.sequence > MAX_SEQ) {
        now = this.lastMs + 1; // borrow the next millisecond rather than spin
        this.sequence = 0;
      }
    } else {
      this.sequence = 0;
    }
    this.lastMs = now;
    const id = (BigInt(now - EPOCH_MS) << (NODE_BITS + SEQ_BITS)) | (BigInt(this.node) << SEQ_BITS) | BigInt(this.sequence);
    return goodsId + id.toString().padStart(SNOWFLAKE_DIGITS, '0');
  }
}

export async function createOrderIdGenerator(redis: RedisClient, counterKey: string): Promise<OrderIdGenerator> {
  const n = await redis.incr(counterKey);
  return new OrderIdGenerator(n % 1024);
}

const SNOWFLAKE_DIGITS = 19;
/** Goods ids that fit in an order id (32 − 19 digits); MySQL's auto-increment never gets near. */
export const MAX_GOODS_ID_DIGITS = 32 - SNOWFLAKE_DIGITS;
const ORDER_ID = new RegExp(`^([1-9]\\d{0,${MAX_GOODS_ID_DIGITS - 1}})(\\d{${SNOWFLAKE_DIGITS}})$`);

/** Is this string one of our order ids (they are WeChat out_trade_no values)? */
export const isOrderId = (id: string): boolean => ORDER_ID.test(id);

/** The goods an order belongs to, read from its id; undefined for anything that is not an order id. */
export function goodsIdOfOrder(orderId: string): string | undefined {
  return ORDER_ID.exec(orderId)?.[1];
}
