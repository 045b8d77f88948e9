/**
 * What this API process knows to be sold out, so the crowd that arrives after the last unit is
 * answered from memory instead of a Redis round trip each (most of a flash sale's traffic).
 *
 * Learned from the grab's own reply (reserveOrder says SOLD_OUT and when the sale ends);
 * forgotten when a unit comes back: the restock scripts publish the goods id when its stock rises
 * from 0 (src/infra/redis/restock-listener.ts), and a periodic re-read of the stock bounds how
 * long a missed message can keep a unit off sale. After the sale's end the memory is not used
 * (Redis then answers NOT_ON_SALE, as it should).
 *
 * One answer differs from Redis's: a buyer who already holds an order of a sold-out goods hears
 * SOLD_OUT from memory where Redis would say REPEAT_ORDER. Both refuse the grab.
 */
export class SoldOutMemory {
  /** goods id → the sale's end (ms): remembered sold out until a restock or then */
  readonly #until = new Map<string, number>();

  has(goodsId: string, now = Date.now()): boolean {
    const until = this.#until.get(goodsId);
    if (until === undefined) return false;
    if (now < until) return true;
    this.#until.delete(goodsId);
    return false;
  }

  remember(goodsId: string, saleEndMs: number): void {
    if (saleEndMs > Date.now()) this.#until.set(goodsId, saleEndMs);
  }

  forget(goodsId: string): void {
    this.#until.delete(goodsId);
  }

  forgetAll(): void {
    this.#until.clear();
  }

  goodsIds(): string[] {
    return [...this.#until.keys()];
  }

  get size(): number {
    return this.#until.size;
  }
}
