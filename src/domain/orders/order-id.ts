import type { Redis } from 'ioredis';

/**
 * Order ids: 63-bit snowflakes as decimal strings (≤ 19 digits, valid WeChat out_trade_no).
 *   41 bits ms since 2024-01-01 | 10 bits node | 12 bits sequence
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

  next(): string {
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
    return id.toString();
  }
}

export async function createOrderIdGenerator(redis: Redis, counterKey: string): Promise<OrderIdGenerator> {
  const n = await redis.incr(counterKey);
  return new OrderIdGenerator(n % 1024);
}

/** Order ids are 1–32 digits (they are WeChat out_trade_no values); reject anything else early. */
export const isOrderId = (id: string): boolean => /^\d{1,32}$/.test(id);
