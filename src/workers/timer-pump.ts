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
 *
 * Which goods to visit: only those in the `timer-goods` set, which the grab that finds a goods'
 * list empty fills (reserve.ts). A pass SPOPs goods out of it *before* draining their lists, so a
 * grab that pushes after a drain's last LPOP finds the list empty and adds its goods again; a pass
 * costs nothing for goods without requests, however many sales have run. A goods can still be
 * missed (a process that died between the grab and its SADD, or between the SPOP and the drain),
 * so every WALK_ALL_EVERY_MS, and on start, a pass visits every live goods instead. One second
 * bounds how late such a request becomes a job (a pump's give-back can also fail while Redis
 * restarts), and a walk over the live sale's goods once a second is still a tenth of what
 * visiting every goods ever sold on every pass cost before.
 */
const BATCH = 1_000;
/** goods taken from the set per pass (the rest wait one interval) */
const GOODS_PER_PASS = 1_000;
export const WALK_ALL_EVERY_MS = 1_000;

type PumpDeps = Pick<CoreDeps, 'redis' | 'keys' | 'queues' | 'logger'>;

export function parseTimerEntry(entry: string, goodsId: string): { job: CloseOrderJob; deadline: number } | undefined {
  const [orderId, deadline] = entry.split(':');
  if (!orderId || !deadline || !/^\d+$/.test(deadline)) return undefined;
  return { job: { orderId, goodsId }, deadline: Number(deadline) };
}

export interface PumpOptions {
  /** visit every live goods, not only those known to have requests (the safety walk) */
  walkAll?: boolean;
}

/** One pass; returns how many timers it turned into jobs. */
export async function pumpTimers(deps: PumpDeps, opts: PumpOptions = {}): Promise<number> {
  const goodsIds = opts.walkAll
    ? await deps.redis.smembers(deps.keys.liveGoods)
    : ((await deps.redis.spop(deps.keys.timerGoods, GOODS_PER_PASS)) ?? []);
  let pumped = 0;
  for (const [i, goodsId] of goodsIds.entries()) {
    try {
      pumped += await drainTimers(deps, goodsId);
    } catch (err) {
      // this goods and the ones not reached yet keep their requests: next pass, not the safety walk
      if (!opts.walkAll) await deps.redis.sadd(deps.keys.timerGoods, ...goodsIds.slice(i)).catch(() => undefined);
      throw err;
    }
  }
  return pumped;
}

async function drainTimers(deps: PumpDeps, goodsId: string): Promise<number> {
  const list = deps.keys.forGoods(goodsId).timers;
  let pumped = 0;
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

/**
 * Pump every `intervalMs` until closed (every live goods on start and every WALK_ALL_EVERY_MS);
 * passes never overlap, errors are logged and retried.
 */
export function startTimerPump(deps: PumpDeps, intervalMs: number): TimerPump {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let lastError = '';
  let lastWalk = 0;
  const tick = () => {
    const walkAll = Date.now() - lastWalk >= WALK_ALL_EVERY_MS;
    if (walkAll) lastWalk = Date.now();
    running = pumpTimers(deps, { walkAll }).then(
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
