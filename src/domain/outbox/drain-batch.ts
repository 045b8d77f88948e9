import type { CoreDeps } from '../deps.js';
import { writeOutboxBatch } from './mysql-batch.js';
import { type OutboxRecord, parseOutboxEntry } from './outbox-record.js';

/** Final orders stay in Redis a day after they are persisted (duplicate events, fast reads). */
export const PERSISTED_ORDER_TTL_SECONDS = 24 * 3600;

export interface DrainResult {
  /** entries read from the outbox */
  taken: number;
  /** orders written to MySQL */
  persisted: number;
  /** entries removed from the outbox after the commit */
  acked: number;
  /** entries moved aside as unreadable */
  setAside: number;
  /** paid orders whose sale this batch subtracted from stock_count */
  newlySold: number;
}

export interface DrainOptions {
  batchSize: number;
  /**
   * Test seam: runs after the MySQL commit and before the outbox ack — exactly where a kill -9
   * makes the batch run again (tests throw here to prove the replay changes nothing).
   */
  afterCommit?: (goodsId: string, records: readonly OutboxRecord[]) => Promise<void> | void;
}

type Deps = Pick<CoreDeps, 'redis' | 'keys' | 'prisma' | 'logger' | 'metrics'>;

/**
 * One batch of one goods' outbox: read the oldest entries and their order hashes, write them to
 * MySQL in one transaction, then ack (remove the entries whose hash did not change meanwhile,
 * let the final orders expire). Unreadable entries are set aside first, so they never block the
 * rest. A crash anywhere leaves the entries in place: the next batch writes them again.
 */
export async function drainOutboxBatch(deps: Deps, goodsId: string, opts: DrainOptions): Promise<DrainResult> {
  const k = deps.keys.forGoods(goodsId);
  const result: DrainResult = { taken: 0, persisted: 0, acked: 0, setAside: 0, newlySold: 0 };
  const batch = await deps.redis.readOutboxBatch(k.outbox, opts.batchSize, k.orderPrefix);
  const entries: { entry: string; hash: Record<string, string> }[] = [];
  for (let i = 0; i + 1 < batch.length; i += 2) entries.push({ entry: String(batch[i]), hash: fieldsOf(batch[i + 1]) });
  result.taken = entries.length;
  if (entries.length === 0) return result;
  // The script reads the order hashes by name, undeclared: on a Redis Cluster whose slot is
  // migrating, a hash already moved reads as missing there. Before an entry is set aside for a
  // missing hash, that hash is read once more as a declared key (the client follows the redirect).
  for (const e of entries) if (Object.keys(e.hash).length === 0) e.hash = await deps.redis.hgetall(k.order(e.entry));

  const records: OutboxRecord[] = [];
  for (const { entry, hash } of entries) {
    const parsed = parseOutboxEntry(entry, goodsId, hash);
    if (parsed.ok) {
      records.push(parsed.record);
      continue;
    }
    if ((await deps.redis.setAsideOutbox(k.outbox, k.outboxRejected, entry, parsed.reason)) === 1) {
      result.setAside += 1;
      deps.metrics.outboxSetAside.inc();
      deps.logger.error({ goodsId, entry, reason: parsed.reason, key: k.outboxRejected }, 'outbox entry cannot be persisted: set aside for a person');
    }
  }
  if (records.length === 0) return result;

  const written = await writeOutboxBatch(deps.prisma, goodsId, records);
  result.persisted = written.orders;
  result.newlySold = written.newlySold;
  await opts.afterCommit?.(goodsId, records);

  const triples = records.flatMap((r) => [r.orderId, r.version, r.status ?? '']);
  result.acked = await deps.redis.ackOutbox(k.outbox, k.paidPending, k.soldAcks, k.orderPrefix, PERSISTED_ORDER_TTL_SECONDS, ...triples);
  return result;
}

/** HGETALL's flat field/value list (as a script returns it) as a record. */
function fieldsOf(flat: string | string[] | undefined): Record<string, string> {
  // no prototype: a hand-edited field named __proto__ is kept as a field, as HGETALL would keep it
  const hash = Object.create(null) as Record<string, string>;
  if (!Array.isArray(flat)) return hash;
  for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i]!] = flat[i + 1]!;
  return hash;
}
