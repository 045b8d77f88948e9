import { Counter, Gauge, type Registry } from 'prom-client';
import type { CoreDeps } from '../domain/deps.js';
import { ReviewKind } from '../generated/prisma/enums.js';
import { QUEUE_NAMES } from '../infra/queues/catalogue.js';

/**
 * What is waiting to be done, read when Prometheus scrapes a worker (not on a timer: nothing is
 * read when nobody looks): jobs per queue and state (delayed close jobs are the orders waiting
 * for their deadline; waiting payment jobs, the payments not applied yet), timer requests the
 * pump has not turned into jobs yet, and open reviews. Each read is one cheap round trip
 * (BullMQ's counts script per queue; one pipelined LLEN per live goods; one grouped COUNT on
 * the reviews' status index). These are facts about the whole system, so every worker reports
 * the same values: aggregate them with max(), not sum().
 *
 * A read that fails or takes over 2 s keeps the gauge's last value and counts an error, so a
 * scrape still returns the process's own metrics when Redis or MySQL is in trouble.
 */
const JOB_STATES = ['waiting', 'delayed', 'active', 'failed'] as const;
const READ_TIMEOUT_MS = 2_000;

type Deps = Pick<CoreDeps, 'redis' | 'keys' | 'queues' | 'prisma' | 'logger'>;

export function registerBacklogGauges(deps: Deps, registry: Registry): void {
  const readErrors = new Counter({
    name: 'seckill_backlog_read_errors_total',
    help: 'Scrape-time backlog reads that failed or timed out (the gauge kept its last value)',
    labelNames: ['source'],
    registers: [registry],
  });
  const read = async (source: 'queues' | 'timers' | 'reviews', work: () => Promise<void>) => {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([work(), new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), READ_TIMEOUT_MS)))]);
    } catch (err) {
      readErrors.inc({ source });
      deps.logger.warn({ err: (err as Error).message, source }, 'backlog gauge not read');
    } finally {
      clearTimeout(timer);
    }
  };

  new Gauge({
    name: 'seckill_queue_jobs',
    help: 'BullMQ jobs per queue and state, read at scrape time',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      await read('queues', async () => {
        // summed over the queue's shards (QUEUE_SHARDS): one series per queue, however it is split
        const shards = deps.queues.all();
        const counts = await Promise.all(shards.map(({ queue }) => queue.getJobCounts(...JOB_STATES)));
        for (const queue of QUEUE_NAMES) {
          for (const state of JOB_STATES) {
            const total = shards.reduce((sum, s, i) => sum + (s.name === queue ? (counts[i]?.[state] ?? 0) : 0), 0);
            this.set({ queue, state }, total);
          }
        }
      });
    },
  });

  new Gauge({
    name: 'seckill_timer_requests_queued',
    help: 'Timer requests queued by grabs that the timer pump has not made close jobs yet, read at scrape time',
    registers: [registry],
    async collect() {
      await read('timers', async () => {
        const goodsIds = await deps.redis.smembers(deps.keys.liveGoods);
        // one command per goods, sent together by auto-pipelining (an explicit pipeline would
        // span many slots, which a cluster refuses)
        const lengths = await Promise.all(goodsIds.map((goodsId) => deps.redis.llen(deps.keys.forGoods(goodsId).timers)));
        this.set(lengths.reduce((sum, n) => sum + n, 0));
      });
    },
  });

  new Gauge({
    name: 'seckill_reviews_open',
    help: 'Reviews waiting for a person, per kind (those MySQL has: see seckill_outbox_depth_total for the rest), read at scrape time',
    labelNames: ['kind'],
    registers: [registry],
    async collect() {
      await read('reviews', async () => {
        const rows = await deps.prisma.reviewItem.groupBy({ by: ['kind'], where: { status: 'OPEN' }, _count: { _all: true } });
        for (const kind of Object.values(ReviewKind)) this.set({ kind }, 0);
        for (const row of rows) this.set({ kind: row.kind }, row._count._all);
      });
    },
  });
}
