import type { CoreDeps } from '../deps.js';
import { DomainError, goodsNotFound } from '../errors.js';
import { Transition } from '../orders/transition-codes.js';

export interface NewGoods {
  title: string;
  price: number;
  costPrice?: number | undefined;
  stockCount: number;
  startTime: Date;
  endTime: Date;
}

export interface GoodsView {
  id: string;
  title: string;
  price: number;
  costPrice: number | null;
  /** durable: units not yet sold */
  stockCount: number;
  /** live: units a buyer can grab now */
  available: number;
  startTime: string;
  endTime: string;
}

interface GoodsRow {
  id: bigint;
  title: string;
  price: number;
  costPrice: number | null;
  stockCount: number;
  startTime: Date;
  endTime: Date;
}

type Deps = Pick<CoreDeps, 'prisma' | 'redis' | 'keys' | 'logger'>;

const view = (row: GoodsRow, available: number): GoodsView => ({
  id: row.id.toString(),
  title: row.title,
  price: row.price,
  costPrice: row.costPrice,
  stockCount: row.stockCount,
  available,
  startTime: row.startTime.toISOString(),
  endTime: row.endTime.toISOString(),
});

/** Goods ids are decimal strings; anything else cannot exist (and must not reach BigInt()). */
export function parseGoodsId(id: string): bigint | undefined {
  return /^[1-9]\d{0,18}$/.test(id) ? BigInt(id) : undefined;
}

const MAX_LOAD_ATTEMPTS = 20;

interface Loaded {
  /** the sale is over: nothing was loaded */
  ended: boolean;
  available: number;
}

/**
 * Put one goods on sale in Redis; safe to repeat (never touches a live stock counter). The
 * available stock it sets subtracts held units and paid orders MySQL has not counted yet.
 * `row` may be a few moments old: if the stock counter is missing and the persister acked a
 * sale since (loadGoods answers StaleDurableStock), the goods is read again from MySQL after
 * the sold-acks generation, which is what makes the count safe to use.
 *
 * A sale that has ended is not loaded (loadGoods answers NotOnSale; see retire.ts for why):
 * `ended` then, with MySQL's count as the units left, which is what Redis would say once
 * nothing is held or waiting for MySQL any more.
 */
async function loadIntoRedis(deps: Deps, first: GoodsRow): Promise<Loaded> {
  const id = first.id.toString();
  const k = deps.keys.forGoods(id);
  let row = first;
  let generation = '';
  for (let attempt = 1; ; attempt += 1) {
    const [code, available] = await deps.redis.loadGoods(
      k.goods, k.stock, k.held, k.paidPending, k.soldAcks,
      row.title, row.price, row.startTime.getTime(), row.endTime.getTime(), row.stockCount, generation,
    );
    if (code === Transition.NotOnSale) return { ended: true, available: row.stockCount };
    if (code !== Transition.StaleDurableStock) {
      await deps.redis.sadd(deps.keys.liveGoods, id);
      if (code === Transition.Done) deps.logger.info({ goodsId: id, available }, 'goods loaded into redis');
      return { ended: false, available };
    }
    if (attempt >= MAX_LOAD_ATTEMPTS) throw new Error(`goods ${id}: stock could not be loaded, the persister kept acking sales during ${attempt} attempts`);
    generation = (await deps.redis.get(k.soldAcks)) ?? '0';
    const fresh = await deps.prisma.seckillGoods.findUnique({ where: { id: first.id } });
    if (!fresh) throw goodsNotFound(id);
    row = fresh;
  }
}

export async function createGoods(deps: Deps, input: NewGoods): Promise<GoodsView> {
  if (input.endTime.getTime() <= input.startTime.getTime()) {
    throw new DomainError('INVALID_INPUT', 'endTime must be after startTime', { fields: ['endTime'] });
  }
  const row = await deps.prisma.seckillGoods.create({
    data: {
      title: input.title,
      price: input.price,
      costPrice: input.costPrice ?? null,
      stockCount: input.stockCount,
      startTime: input.startTime,
      endTime: input.endTime,
    },
  });
  // If Redis is down right now the goods still exists; the first grab or the sweeper loads it.
  const available = await loadIntoRedis(deps, row).then(
    (loaded) => loaded.available,
    (err: Error) => {
      deps.logger.warn({ goodsId: row.id.toString(), err: err.message }, 'goods not loaded into redis yet');
      return row.stockCount;
    },
  );
  return view(row, available);
}

async function findRow(deps: Deps, id: string): Promise<GoodsRow> {
  const goodsId = parseGoodsId(id);
  const row = goodsId === undefined ? null : await deps.prisma.seckillGoods.findUnique({ where: { id: goodsId } });
  if (!row) throw goodsNotFound(id);
  return row;
}

/**
 * Live stock of many goods (one GET each, sent together: the keys live in different Cluster
 * slots, so no MGET), loading any that Redis has lost.
 */
async function liveStock(deps: Deps, rows: GoodsRow[]): Promise<number[]> {
  if (rows.length === 0) return [];
  const values = await Promise.all(rows.map((row) => deps.redis.get(deps.keys.forGoods(row.id.toString()).stock)));
  return Promise.all(rows.map(async (row, i) => (values[i] == null ? (await loadIntoRedis(deps, row)).available : Number(values[i]))));
}

export async function getGoods(deps: Deps, id: string): Promise<GoodsView> {
  const row = await findRow(deps, id);
  const [available] = await liveStock(deps, [row]);
  return view(row, available ?? 0);
}

export async function listGoodsOnSale(deps: Deps, now = new Date()): Promise<GoodsView[]> {
  const rows = await deps.prisma.seckillGoods.findMany({
    where: { startTime: { lte: now }, endTime: { gt: now } },
    orderBy: { startTime: 'asc' },
    take: 500,
  });
  const available = await liveStock(deps, rows);
  return rows.map((row, i) => view(row, available[i] ?? 0));
}

/**
 * Make sure a goods is loaded into Redis (after a flush or restart, or after its keys of an
 * ended sale expired): `missing` when the goods does not exist in MySQL, `ended` when its sale
 * is over (nothing is loaded then).
 */
export async function ensureGoodsLoaded(deps: Deps, id: string): Promise<'loaded' | 'missing' | 'ended'> {
  const goodsId = parseGoodsId(id);
  const row = goodsId === undefined ? null : await deps.prisma.seckillGoods.findUnique({ where: { id: goodsId } });
  if (!row) return 'missing';
  return (await loadIntoRedis(deps, row)).ended ? 'ended' : 'loaded';
}

/** Reload every goods whose sale has not ended (sweeper; start-up). */
export async function reloadLiveGoods(deps: Deps, now = new Date()): Promise<number> {
  const rows = await deps.prisma.seckillGoods.findMany({ where: { endTime: { gt: now } } });
  for (const row of rows) await loadIntoRedis(deps, row);
  return rows.length;
}
