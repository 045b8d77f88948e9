import { type RedisClient, duplicateClient } from './client.js';
import type { SoldOutMemory } from '../../domain/goods/sold-out.js';
import type { KeySpace } from './keys.js';
import type { Logger } from '../logger.js';

/**
 * Keeps an API process's SoldOutMemory true:
 * - a subscriber connection hears the restock channel (closeWithRestock and resolveReview publish
 *   a goods id when its stock rises from 0) and forgets that goods at once;
 * - whenever the subscriber (re)connects everything is forgotten, since messages published while
 *   it was away are lost (pub/sub keeps nothing);
 * - every `recheckMs` the stock of each remembered goods is read again, so even a message lost
 *   some other way keeps a unit off sale for at most that long.
 */
export class RestockListener {
  readonly #subscriber: RedisClient;
  readonly #timer: NodeJS.Timeout;
  #closed = false;

  constructor(
    private readonly memory: SoldOutMemory,
    private readonly redis: RedisClient,
    private readonly keys: KeySpace,
    recheckMs: number,
    private readonly logger: Logger,
  ) {
    // named after the channel, so an operator (or a test) can tell whose subscriber it is
    // On a cluster the subscriber listens on one node: a PUBLISH on any node reaches every node.
    this.#subscriber = duplicateClient(redis, { connectionName: `restock-sub:${keys.restockChannel}`, enableAutoPipelining: false, enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.#subscriber.on('error', () => undefined); // the main connection reports Redis trouble
    this.#subscriber.on('ready', () => memory.forgetAll());
    this.#subscriber.on('message', (_channel: string, goodsId: string) => memory.forget(goodsId));
    // (queued until connected; ioredis subscribes again by itself after a reconnection)
    this.#subscriber.subscribe(keys.restockChannel).catch((err: Error) => logger.warn({ err: err.message }, 'restock channel: subscribe failed; relying on the periodic re-check'));
    this.#timer = setInterval(() => void this.recheck(), recheckMs);
    this.#timer.unref();
  }

  /** Read the stock of every remembered goods; forget those with a unit (or no counter) again. */
  async recheck(): Promise<void> {
    const ids = this.memory.goodsIds();
    if (ids.length === 0 || this.#closed) return;
    try {
      const stocks = await Promise.all(ids.map((id) => this.redis.get(this.keys.forGoods(id).stock)));
      ids.forEach((id, i) => {
        const stock = stocks[i];
        if (stock === null || stock === undefined || Number(stock) > 0) this.memory.forget(id);
      });
    } catch (err) {
      // Redis is away: the grab itself will say so; forget everything rather than guess
      this.memory.forgetAll();
      this.logger.debug({ err: (err as Error).message }, 'sold-out re-check failed');
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#subscriber.disconnect();
  }
}
