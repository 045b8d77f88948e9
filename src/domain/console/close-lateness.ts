import type { CoreDeps } from '../deps.js';

export interface CloseLateness {
  /** the latest timeout closes MySQL has, oldest first: how long after its deadline each order closed */
  samples: { orderId: string; closedAt: string; seconds: number }[];
  p50: number | null;
  p95: number | null;
  max: number | null;
}

export const LATENESS_SAMPLES = 50;

type Deps = Pick<CoreDeps, 'prisma'>;

/**
 * Recent close lateness of one goods: closedAt − deadline of its latest orders closed by their
 * timer, the very quantity the workers' `seckill_close_lateness_seconds` histogram observes
 * (src/domain/orders/close.ts), but per goods and from MySQL, so any API process can answer for
 * every worker. Buyer cancels are left out (they close before their deadline, by choice).
 * Closes still in the outbox (MySQL behind) show up once the persister has written them.
 */
export async function readCloseLateness(deps: Deps, goodsId: bigint): Promise<CloseLateness> {
  const rows = await deps.prisma.seckillOrder.findMany({
    where: { goodsId, status: 'CLOSED', closeReason: 'TIMEOUT', closedAt: { not: null } },
    orderBy: { closedAt: 'desc' },
    take: LATENESS_SAMPLES,
    select: { id: true, deadline: true, closedAt: true },
  });
  const samples = rows
    .map(({ id, deadline, closedAt }) => {
      const closed = closedAt ?? deadline; // never null here: the query asks for a closedAt
      return { orderId: id, closedAt: closed.toISOString(), seconds: Math.max(0, (closed.getTime() - deadline.getTime()) / 1000) };
    })
    .reverse();
  const sorted = samples.map((s) => s.seconds).sort((a, b) => a - b);
  return { samples, p50: nearestRank(sorted, 0.5), p95: nearestRank(sorted, 0.95), max: sorted.at(-1) ?? null };
}

/** Nearest-rank percentile of sorted values (null without any). */
function nearestRank(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? null;
}
