import * as mariadb from 'mariadb';
import { Redis } from 'ioredis';
import { goodsIdOfOrder } from '../../src/domain/orders/order-id.js';
import { keySpace } from '../../src/infra/redis/keys.js';
import { parseDatabaseUrl } from '../../src/infra/db/connection-url.js';
import type { Ledger } from '../../src/sandbox/store.js';
import { percentile } from './stats.js';

/**
 * The suite's judge. It reads Redis and MySQL directly (never writes) and the sandbox's ledger,
 * and checks, for the goods of one experiment, what the product promises after any fault:
 *
 * - every order is in exactly one final state (PAID or CLOSED), the same in Redis and MySQL;
 * - per goods, MySQL's durable `stock_count` = available units in Redis + units held, and
 *   = initial stock − orders PAID: nothing oversold, nothing stuck, nothing counted twice;
 * - the sandbox's ledger agrees: no order both paid (and kept) and closed, each closed at most
 *   once, each payment that arrived after its close refunded exactly once, every PAID order paid;
 * - nothing left in an outbox, a paid-pending set or a timer queue.
 */

/** The sale's key prefix in the chaos system (KEY_PREFIX). */
export const CHAOS_KEY_PREFIX = 'chaos';

export interface GoodsUnderTest {
  goodsId: string;
  initialStock: number;
}

export interface Verdict {
  violations: string[];
  /** each invariant by name, with what broke it (empty: held) */
  checks: { name: string; failures: string[] }[];
  /** closedAt − deadline of every order closed by timeout, ms, ascending */
  lateness: number[];
  counts: Record<string, number>;
  /** max over closed-by-timeout orders of (closedAt − deadline), ms */
  maxCloseLatenessMs: number;
  p99CloseLatenessMs: number;
}

export class Judge {
  readonly redis: Redis;
  private readonly keys: ReturnType<typeof keySpace>;

  constructor(
    redisUrl: string,
    private readonly databaseUrl: string,
    readonly keyPrefix = CHAOS_KEY_PREFIX,
  ) {
    this.keys = keySpace(keyPrefix);
    // a restart of the private Redis must not kill the judge: reconnect and retry
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: null, retryStrategy: () => 200 });
    this.redis.on('error', () => undefined);
  }

  private async mysql<T>(fn: (conn: mariadb.Connection) => Promise<T>): Promise<T> {
    const c = parseDatabaseUrl(this.databaseUrl);
    const conn = await mariadb.createConnection({ host: c.host, port: c.port, user: c.user, password: c.password, database: c.database, bigIntAsNumber: true, dateStrings: false });
    try {
      return await fn(conn);
    } finally {
      await conn.end();
    }
  }

  /** What is still moving for these goods: orders held, timer requests queued, outbox entries, paid units MySQL lacks. */
  async inFlight(goods: readonly GoodsUnderTest[]): Promise<{ held: number; timers: number; outbox: number; paidPending: number }> {
    const pipe = this.redis.pipeline();
    for (const g of goods) {
      const k = this.keys.forGoods(g.goodsId);
      pipe.zcard(k.held).llen(k.timers).zcard(k.outbox).scard(k.paidPending);
    }
    const results = ((await pipe.exec()) ?? []).map(([, v]) => Number(v));
    const sum = (offset: number) => results.filter((_, i) => i % 4 === offset).reduce((a, b) => a + b, 0);
    return { held: sum(0), timers: sum(1), outbox: sum(2), paidPending: sum(3) };
  }

  /** Wait until nothing is moving (every order final and persisted); the drain time in ms. */
  async drain(goods: readonly GoodsUnderTest[], timeoutMs: number, onTick?: (f: Awaited<ReturnType<Judge['inFlight']>>) => void): Promise<{ drainMs: number; left?: string }> {
    const started = Date.now();
    for (;;) {
      const f = await this.inFlight(goods);
      onTick?.(f);
      if (f.held + f.timers + f.outbox + f.paidPending === 0) return { drainMs: Date.now() - started };
      if (Date.now() - started > timeoutMs) return { drainMs: Date.now() - started, left: `held ${f.held}, timer requests ${f.timers}, outbox ${f.outbox}, paid-pending ${f.paidPending}` };
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /**
   * The longest any order of these goods has been UNPAID past its deadline right now, ms (0 if
   * none). A CLOSING order is being closed (maybe waiting for WeChat's 5-minute rule): no payment
   * can start on it, so it does not count.
   */
  async overdueUnpaidMs(goods: readonly GoodsUnderTest[]): Promise<number> {
    const now = Date.now();
    let worst = 0;
    for (const g of goods) {
      const k = this.keys.forGoods(g.goodsId);
      const due = await this.redis.zrangebyscore(k.held, '-inf', now, 'WITHSCORES');
      if (due.length === 0) continue;
      const pipe = this.redis.pipeline();
      for (let i = 0; i < due.length; i += 2) pipe.hget(k.order(due[i]!), 'status');
      const statuses = (await pipe.exec()) ?? [];
      statuses.forEach(([, status], j) => {
        if (status === 'UNPAID') worst = Math.max(worst, now - Number(due[j * 2 + 1]));
      });
    }
    return worst;
  }

  async verdict(goods: readonly GoodsUnderTest[], knownOrders: ReadonlySet<string>, ledger: Ledger): Promise<Verdict> {
    const violations: string[] = [];
    const counts: Record<string, number> = { orders: 0, PAID: 0, CLOSED: 0, closedByTimeout: 0, closedByCancel: 0, other: 0, refunds: 0, lateRefunded: 0, openReviews: 0, unknownToClient: 0 };
    const checks: { name: string; failures: string[] }[] = [];
    const goodsIds = goods.map((g) => g.goodsId);
    const { rows, stock, reviews } = await this.mysql(async (conn) => {
      const marks = goodsIds.map(() => '?').join(',');
      return {
        rows: await conn.query<{ id: string; goods_id: number; status: string; deadline: Date; closed_at: Date | null; close_reason: string | null }[]>(`SELECT id, goods_id, status, deadline, closed_at, close_reason FROM tb_seckill_order WHERE goods_id IN (${marks})`, goodsIds),
        stock: await conn.query<{ id: number; stock_count: number }[]>(`SELECT id, stock_count FROM tb_seckill_goods WHERE id IN (${marks})`, goodsIds),
        reviews: await conn.query<{ order_id: string; kind: string; status: string; outcome: string | null }[]>(`SELECT r.order_id, r.kind, r.status, r.outcome FROM tb_review_item r JOIN tb_seckill_order o ON o.id = r.order_id WHERE o.goods_id IN (${marks})`, goodsIds),
      };
    });

    const mysqlById = new Map(rows.map((r) => [r.id, r]));
    const allOrders = new Set([...knownOrders, ...mysqlById.keys()]);
    counts.unknownToClient = [...mysqlById.keys()].filter((id) => !knownOrders.has(id)).length;
    counts.orders = allOrders.size;

    // Redis: each order's hash (kept 24 h after it reached MySQL)
    const ids = [...allOrders];
    const redisStatus = new Map<string, string | null>();
    for (let i = 0; i < ids.length; i += 1000) {
      const slice = ids.slice(i, i + 1000);
      // the order id carries its goods (src/domain/orders/order-id.ts); MySQL's row says it too
      const keys = slice.map((id) => {
        const goodsId = mysqlById.get(id)?.goods_id?.toString() ?? goodsIdOfOrder(id);
        return goodsId === undefined ? undefined : this.keys.forGoods(goodsId).order(id);
      });
      const pipe = this.redis.pipeline();
      for (const key of keys) if (key) pipe.hget(key, 'status');
      const results = ((await pipe.exec()) ?? []).map(([, v]) => v as string | null);
      let cursor = 0;
      slice.forEach((id, j) => redisStatus.set(id, keys[j] ? (results[cursor++] ?? null) : null));
    }

    const sandboxPaid = new Map<string, number>();
    for (const p of ledger.paid) sandboxPaid.set(p.out_trade_no, (sandboxPaid.get(p.out_trade_no) ?? 0) + 1);
    const sandboxClosed = new Map<string, number>();
    for (const c of ledger.closed) sandboxClosed.set(c.out_trade_no, (sandboxClosed.get(c.out_trade_no) ?? 0) + 1);
    const sandboxRefunds = new Map<string, number>();
    for (const r of ledger.refunds) sandboxRefunds.set(r.out_trade_no, (sandboxRefunds.get(r.out_trade_no) ?? 0) + 1);

    const lateness: number[] = [];
    const paidPerGoods = new Map<string, number>();
    const report = (what: string, list: string[], check: string) => {
      let entry = checks.find((c) => c.name === check);
      if (!entry) checks.push((entry = { name: check, failures: [] }));
      if (list.length === 0) return;
      const line = `${list.length} ${what} (e.g. ${list.slice(0, 3).join(', ')})`;
      violations.push(line);
      entry.failures.push(line);
    };
    const lost: string[] = [];
    const notFinal: string[] = [];
    const disagree: string[] = [];
    const paidAndClosed: string[] = [];
    const closedTwice: string[] = [];
    const refundedTwice: string[] = [];
    const lateNotRefunded: string[] = [];
    const paidNotPaid: string[] = [];

    for (const id of allOrders) {
      const row = mysqlById.get(id);
      const live = redisStatus.get(id);
      if (!row && !live) {
        lost.push(id);
        continue;
      }
      const status = row?.status ?? live ?? 'missing';
      if (status === 'PAID' || status === 'CLOSED') counts[status] = (counts[status] ?? 0) + 1;
      else counts.other = (counts.other ?? 0) + 1;
      if (!row || (status !== 'PAID' && status !== 'CLOSED')) notFinal.push(`${id}:${status}${row ? '' : ' (not in MySQL)'}`);
      if (row && live && live !== row.status) disagree.push(`${id}: Redis ${live}, MySQL ${row.status}`);
      if (row?.status === 'PAID') paidPerGoods.set(String(row.goods_id), (paidPerGoods.get(String(row.goods_id)) ?? 0) + 1);

      const paidAtWeChat = sandboxPaid.get(id) ?? 0;
      const closedAtWeChat = sandboxClosed.get(id) ?? 0;
      const refunds = sandboxRefunds.get(id) ?? 0;
      counts.refunds = (counts.refunds ?? 0) + refunds;
      if (closedAtWeChat > 1) closedTwice.push(id);
      if (paidAtWeChat > 0 && closedAtWeChat > 0) paidAndClosed.push(`${id} (paid and closed at WeChat)`);
      if (status === 'PAID' && paidAtWeChat === 0) paidNotPaid.push(id);
      if (status === 'PAID' && refunds > 0) paidAndClosed.push(`${id} (PAID but refunded)`);
      if (status === 'CLOSED' && paidAtWeChat > 0) {
        if (refunds === 0) lateNotRefunded.push(id);
        else counts.lateRefunded = (counts.lateRefunded ?? 0) + 1;
      }
      if (refunds > 1) refundedTwice.push(id);
      if (row?.status === 'CLOSED' && row.close_reason === 'TIMEOUT' && row.closed_at) lateness.push(row.closed_at.getTime() - row.deadline.getTime());
      if (row?.status === 'CLOSED') {
        const key = row.close_reason === 'USER_CANCEL' ? 'closedByCancel' : 'closedByTimeout';
        counts[key] = (counts[key] ?? 0) + 1;
      }
    }
    const FINAL = 'every order PAID or CLOSED, the same in Redis and MySQL, none lost or in review';
    const LEDGER = 'the WeChat ledger agrees: PAID orders paid there, late payments refunded once';
    const CLOSED_ONCE = 'each order closed at most once at WeChat';
    report('orders lost (acknowledged to the buyer, in neither Redis nor MySQL)', lost, FINAL);
    report('orders not final in MySQL', notFinal, FINAL);
    report('orders whose Redis and MySQL states differ', disagree, FINAL);
    const open = reviews.filter((r) => r.status === 'OPEN');
    counts.openReviews = open.length;
    report('open reviews', open.map((r) => `${r.order_id}:${r.kind}`), FINAL);
    report('orders both kept paid and closed/refunded', paidAndClosed, LEDGER);
    report('orders PAID without a payment at WeChat', paidNotPaid, LEDGER);
    report('late payments not refunded', lateNotRefunded, LEDGER);
    report('orders refunded more than once', refundedTwice, LEDGER);
    report('orders closed more than once at WeChat', closedTwice, CLOSED_ONCE);

    // stock: durable = available + held = initial − paid
    const pipe = this.redis.pipeline();
    for (const g of goods) {
      const k = this.keys.forGoods(g.goodsId);
      pipe.get(k.stock).zcard(k.held);
    }
    const live = ((await pipe.exec()) ?? []).map(([, v]) => v);
    const stockCheck = { name: 'durable stock = available + held = initial − paid (nothing oversold or stuck)', failures: [] as string[] };
    checks.push(stockCheck);
    goods.forEach((g, i) => {
      const available = Number(live[i * 2] ?? Number.NaN);
      const held = Number(live[i * 2 + 1]);
      const durable = stock.find((s) => String(s.id) === g.goodsId)?.stock_count;
      const paid = paidPerGoods.get(g.goodsId) ?? 0;
      const failures: string[] = [];
      if (durable !== available + held) failures.push(`goods ${g.goodsId}: stock_count ${durable} ≠ available ${available} + held ${held}`);
      if (durable !== g.initialStock - paid) failures.push(`goods ${g.goodsId}: stock_count ${durable} ≠ initial ${g.initialStock} − paid ${paid}`);
      violations.push(...failures);
      stockCheck.failures.push(...failures);
    });

    lateness.sort((a, b) => a - b);
    return {
      violations,
      checks,
      lateness,
      counts,
      maxCloseLatenessMs: lateness.at(-1) ?? 0,
      p99CloseLatenessMs: percentile(lateness, 0.99),
    };
  }

  close(): void {
    this.redis.disconnect();
  }
}

/**
 * A fingerprint of everything the sale keeps (Redis keys under the sale's prefix, MySQL tables),
 * to show that a batch of hostile requests changed nothing. Left out, because they change on
 * their own while the system idles: the persister's leases.
 */
export async function snapshot(judge: Judge, databaseUrl: string): Promise<Map<string, string>> {
  const { createHash } = await import('node:crypto');
  const out = new Map<string, string>();
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await judge.redis.scan(cursor, 'MATCH', `${judge.keyPrefix}:*`, 'COUNT', '1000');
    cursor = next;
    keys.push(...batch.filter((k) => !k.endsWith(':persister-lease')));
  } while (cursor !== '0');
  for (const key of keys.sort()) {
    const type = await judge.redis.type(key);
    let value: unknown;
    if (type === 'string') value = await judge.redis.get(key);
    else if (type === 'hash') value = Object.entries(await judge.redis.hgetall(key)).sort();
    else if (type === 'zset') value = await judge.redis.zrange(key, '0', '-1', 'WITHSCORES');
    else if (type === 'set') value = (await judge.redis.smembers(key)).sort();
    else if (type === 'list') value = await judge.redis.lrange(key, 0, -1);
    else value = type;
    out.set(`redis ${key}`, createHash('sha1').update(JSON.stringify(value)).digest('hex'));
  }
  const c = parseDatabaseUrl(databaseUrl);
  const conn = await mariadb.createConnection({ host: c.host, port: c.port, user: c.user, password: c.password, database: c.database, bigIntAsNumber: true });
  try {
    for (const table of ['tb_seckill_goods', 'tb_seckill_order', 'tb_payment_event', 'tb_review_item']) {
      const [row] = await conn.query<{ Checksum: number }[]>(`CHECKSUM TABLE ${table}`);
      const [count] = await conn.query<{ n: number }[]>(`SELECT COUNT(*) AS n FROM ${table}`);
      out.set(`mysql ${table}`, `${count?.n} rows, checksum ${row?.Checksum}`);
    }
  } finally {
    await conn.end();
  }
  return out;
}

export function snapshotDiff(before: Map<string, string>, after: Map<string, string>): string[] {
  const diff: string[] = [];
  for (const [k, v] of before) if (after.get(k) !== v) diff.push(after.has(k) ? `${k} changed` : `${k} removed`);
  for (const k of after.keys()) if (!before.has(k)) diff.push(`${k} added`);
  return diff;
}
