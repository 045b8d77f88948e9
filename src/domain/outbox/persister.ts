import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { CoreDeps } from '../deps.js';
import { type DrainOptions, drainOutboxBatch } from './drain-batch.js';
import { GoodsMissingError } from './mysql-batch.js';
import { readOutboxLag } from './outbox-lag.js';

/**
 * The outbox persister (design §6), one per worker process; any number may run. Every
 * `lingerMs` it looks at every live goods' outbox (one pipelined round trip, which also feeds
 * the lag metrics) and drains each goods that has entries in batches of up to `batchSize`
 * orders, a full batch straight after another.
 *
 * - A per-goods lease keeps two processes from writing the same batch twice (harmless, since
 *   every write is idempotent, but wasted MySQL work). A process that dies leaves its lease to
 *   lapse after `leaseMs`; another one carries on from the entries still in the outbox.
 * - MySQL errors are retried for as long as it takes, with backoff per goods (one goods whose
 *   rows MySQL rejects does not hold up the others), and each distinct error is logged once.
 */

export interface PersisterOptions {
  batchSize: number;
  lingerMs: number;
  /** how long a goods stays with this process after its last batch (default 10 s) */
  leaseMs?: number;
  /** longest pause between retries of a failing goods (default 5 s) */
  maxBackoffMs?: number;
  afterCommit?: DrainOptions['afterCommit'];
}

export interface Persister {
  /** One pass over every goods now (tests, benchmarks); resolves when that pass is done. */
  drainNow(): Promise<void>;
  /** Stop polling, finish the batch in flight, give the leases back. */
  close(): Promise<void>;
}

type Deps = Pick<CoreDeps, 'redis' | 'keys' | 'prisma' | 'logger' | 'metrics'>;

interface GoodsState {
  failures: number;
  retryAt: number;
  lastError: string;
}

const GOODS_IN_PARALLEL = 4;
const MAX_BATCHES_PER_TURN = 20;

export function startPersister(deps: Deps, opts: PersisterOptions): Persister {
  const holder = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  const leaseMs = opts.leaseMs ?? 10_000;
  const maxBackoffMs = opts.maxBackoffMs ?? 5_000;
  const states = new Map<string, GoodsState>();
  const leased = new Set<string>();
  /** goods whose outbox gauges this process has set */
  const gauged = new Set<string>();
  let lastPollError = '';
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<boolean> = Promise.resolve(false);

  const stateOf = (goodsId: string) => {
    let state = states.get(goodsId);
    if (!state) states.set(goodsId, (state = { failures: 0, retryAt: 0, lastError: '' }));
    return state;
  };

  /** Drain one goods for a while; true if it still had a full batch waiting when it stopped. */
  async function drainGoods(goodsId: string): Promise<boolean> {
    const k = deps.keys.forGoods(goodsId);
    if ((await deps.redis.claimLease(k.persisterLease, holder, leaseMs)) !== 1) return false;
    leased.add(goodsId);
    const state = stateOf(goodsId);
    try {
      for (let turn = 0; turn < MAX_BATCHES_PER_TURN && !stopped; turn += 1) {
        const result = await drainOutboxBatch(deps, goodsId, { batchSize: opts.batchSize, ...(opts.afterCommit ? { afterCommit: opts.afterCommit } : {}) });
        if (result.persisted > 0) {
          deps.metrics.ordersPersisted.inc(result.persisted);
          deps.metrics.persisterBatches.inc({ result: 'ok' });
        }
        if (state.failures > 0) deps.logger.info({ goodsId, failures: state.failures }, 'persister: MySQL writes work again');
        state.failures = 0;
        state.lastError = '';
        if (result.taken < opts.batchSize) return false;
        // a batch slower than the lease: another process may have taken the goods; let it
        if ((await deps.redis.claimLease(k.persisterLease, holder, leaseMs)) !== 1) return false;
      }
      return true;
    } catch (err) {
      const message = (err as Error).message;
      state.failures += 1;
      state.retryAt = Date.now() + Math.min(maxBackoffMs, 50 * 2 ** Math.min(state.failures, 16));
      deps.metrics.persisterBatches.inc({ result: err instanceof GoodsMissingError ? 'goods-missing' : 'error' });
      if (message !== state.lastError) {
        deps.logger.error({ goodsId, err: message, failures: state.failures }, 'persister: batch not written; retrying with backoff (logged once per distinct error)');
        state.lastError = message;
      }
      return false;
    }
  }

  /** One pass; true if some goods still has a full batch waiting. */
  async function pass(): Promise<boolean> {
    const lag = await readOutboxLag(deps);
    deps.metrics.outboxDepthTotal.set(lag.depth);
    deps.metrics.outboxOldestAgeTotal.set(lag.oldestAgeMs / 1000);
    // only live goods keep a series (and a retry state): a retired goods' would stay for ever
    // (removed one by one, not reset: a scrape in between would see no series at all)
    const live = new Set(lag.goods.map((g) => g.goodsId));
    for (const goodsId of gauged) {
      if (live.has(goodsId)) continue;
      deps.metrics.outboxDepth.remove({ goods_id: goodsId });
      deps.metrics.outboxOldestAge.remove({ goods_id: goodsId });
      gauged.delete(goodsId);
    }
    for (const goodsId of live) gauged.add(goodsId);
    for (const goodsId of states.keys()) if (!live.has(goodsId)) states.delete(goodsId);
    for (const g of lag.goods) {
      deps.metrics.outboxDepth.set({ goods_id: g.goodsId }, g.depth);
      deps.metrics.outboxOldestAge.set({ goods_id: g.goodsId }, g.oldestAgeMs / 1000);
    }
    const now = Date.now();
    const due = lag.goods.filter((g) => g.depth > 0 && (states.get(g.goodsId)?.retryAt ?? 0) <= now).map((g) => g.goodsId);
    let more = false;
    for (let i = 0; i < due.length; i += GOODS_IN_PARALLEL) {
      const results = await Promise.all(due.slice(i, i + GOODS_IN_PARALLEL).map(drainGoods));
      more ||= results.some(Boolean);
    }
    return more;
  }

  const tick = () => {
    running = pass().then(
      (more) => {
        lastPollError = '';
        return more;
      },
      (err: Error) => {
        if (err.message !== lastPollError) deps.logger.error({ err: err.message }, 'persister: cannot read the outboxes; retrying');
        lastPollError = err.message;
        return false;
      },
    );
    void running.then((more) => {
      if (!stopped) timer = setTimeout(tick, more ? 0 : opts.lingerMs);
    });
  };
  tick();

  return {
    async drainNow() {
      await running;
      await pass();
    },
    async close() {
      stopped = true;
      clearTimeout(timer);
      await running;
      await Promise.all([...leased].map((goodsId) => deps.redis.releaseLease(deps.keys.forGoods(goodsId).persisterLease, holder).catch(() => 0)));
    },
  };
}
