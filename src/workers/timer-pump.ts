import type { CoreDeps } from '../domain/deps.js';
import type { CloseOrderJob } from '../infra/queues/catalogue.js';

/**
 * Turns the timer requests that reserveOrder queues (atomically with the grab, in the goods'
 * `timers` list: `orderId:deadlineMs`) into BullMQ delayed jobs `timeout-<orderId>`, in bulk.
 *
 * Why not add the job in the API, right after the grab: that add is BullMQ's heaviest script,
 * about as costly as the whole grab (BENCHMARKS.md, "Grab"), and a crash between the grab and the
 * add would leave the order without a timer. Queued inside the grab's own script, the request
 * cannot be lost with the API; it becomes a job within one pump interval, long before any
 * deadline. LPOP hands each entry to exactly one pump, so any number of workers can pump. A pump
 * that dies between its LPOP and its addBulk loses those entries: the sweeper finds such overdue
 * orders without a job and closes them (design §4.7), as for any lost job.
 */
const BATCH = 1_000;

export function parseTimerEntry(entry: string, goodsId: string): { job: CloseOrderJob; deadline: number } | undefined {
  const [orderId, deadline] = entry.split(':');
  if (!orderId || !deadline || !/^\d+$/.test(deadline)) return undefined;
  return { job: { orderId, goodsId }, deadline: Number(deadline) };
}

/** One pass over every live goods; returns how many timers it turned into jobs. */
export async function pumpTimers(deps: Pick<CoreDeps, 'redis' | 'keys' | 'queues' | 'logger'>): Promise<number> {
  const goodsIds = await deps.redis.smembers(deps.keys.liveGoods);
  let pumped = 0;
  for (const goodsId of goodsIds) {
    const list = deps.keys.forGoods(goodsId).timers;
    for (;;) {
      const entries = (await deps.redis.lpop(list, BATCH)) ?? [];
      if (entries.length === 0) break;
      const timers = await stillOpen(deps, goodsId, entries.map((entry) => parseTimerEntry(entry, goodsId)).filter((t) => t !== undefined));
      try {
        await deps.queues.scheduleCloses(timers);
      } catch (err) {
        // give the entries back (at the head, in order) for the next pass
        await deps.redis.lpush(list, ...entries.reverse());
        throw err;
      }
      pumped += timers.length;
      if (entries.length < BATCH) break;
    }
  }
  return pumped;
}

/**
 * Only orders still UNPAID/CLOSING need a timer: one paid or cancelled before its request was
 * pumped must not get a close job (harmless if it did, but it would sit in Bull Board until its
 * deadline). One pipelined HGET per timer.
 */
async function stillOpen(
  deps: Pick<CoreDeps, 'redis' | 'keys'>,
  goodsId: string,
  timers: { job: CloseOrderJob; deadline: number }[],
): Promise<{ job: CloseOrderJob; deadline: number }[]> {
  if (timers.length === 0) return timers;
  const k = deps.keys.forGoods(goodsId);
  const pipeline = deps.redis.pipeline();
  for (const t of timers) pipeline.hget(k.order(t.job.orderId), 'status');
  const replies = (await pipeline.exec()) ?? [];
  return timers.filter((_, i) => {
    const [err, status] = replies[i] ?? [];
    return err != null || status === 'UNPAID' || status === 'CLOSING'; // on doubt, keep the timer
  });
}

export interface TimerPump {
  close(): Promise<void>;
}

/** Pump every `intervalMs` until closed; passes never overlap, errors are logged and retried. */
export function startTimerPump(deps: Pick<CoreDeps, 'redis' | 'keys' | 'queues' | 'logger'>, intervalMs: number): TimerPump {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let lastError = '';
  const tick = () => {
    running = pumpTimers(deps).then(
      () => {
        lastError = '';
      },
      (err: Error) => {
        if (err.message !== lastError) deps.logger.error({ err: err.message }, 'timer pump failed; retrying');
        lastError = err.message;
      },
    );
    void running.finally(() => {
      if (!stopped) timer = setTimeout(tick, intervalMs);
    });
  };
  tick();
  return {
    async close() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
