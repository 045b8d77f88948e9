import { randomBytes } from 'node:crypto';
import { type Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_OF, type RetryPolicy, closeBackoffMs, jobId, orderIdOfCloseJob, workerDefaults } from '../../src/infra/queues/catalogue.js';
import { Queues } from '../../src/infra/queues/queues.js';
import { eventually } from '../../src/sandbox/testing.js';

/**
 * The timer pump's `timeout` jobs are stored compactly (one per pending order: BENCHMARKS.md,
 * "Memory per pending order") and close like close-order jobs: their backoff and what happens
 * once they finish come from the worker (workerDefaults). Jobs of the previous version keep their
 * own options, and a worker of the previous version lets a timeout job go back to the queue for
 * a current one. On the machine's Redis, under this file's own queue prefix.
 */

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `{cq${randomBytes(4).toString('hex')}}`;
const QUEUE = QUEUE_OF.timeout;
const retry: RetryPolicy = { maxAttempts: 3, backoffMs: 200 };
let redis: Redis;
let queues: Queues;
const workers: Worker[] = [];
let seq = 0;
/** order ids as the service makes them: goods id + 19 digits (goods 1001: 23 digits) */
const newOrderId = () => `1001${String(Date.now() * 1000 + ++seq).padStart(19, '0')}`;
const jobKey = (orderId: string) => `${PREFIX}:${QUEUE}:${jobId.closeOrder(orderId)}`;
const getJob = (orderId: string) => queues.byName[QUEUE].getJob(jobId.closeOrder(orderId));
/** the timer pump's way: a timeout job due at `deadline` */
const pump = (orderId: string, deadline = Date.now()) => queues.scheduleCloses([{ job: { orderId, goodsId: '1001' }, deadline }]);

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  queues = new Queues(redis, PREFIX, retry, pino({ level: 'silent' }));
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.close()));
  await queues.close();
  // every queue of the set wrote its meta key, not only the one under test: leave nothing behind
  const stale = await redis.keys(`${PREFIX}:*`);
  if (stale.length) await redis.del(...stale);
  await redis.quit();
});

/** A worker on the close queue as src/workers/runtime.ts makes it (`current`) or as the previous version did. */
function startWorker(run: (job: Job) => Promise<void>, version: 'current' | 'previous' = 'current', extra: object = {}): Worker {
  const defaults = version === 'current' ? workerDefaults(QUEUE, retry) : {};
  // stall checks every second (30 s by default): the last worker to check sets when the next may
  const worker = new Worker(QUEUE, run, { connection: redis.duplicate(), prefix: PREFIX, stalledInterval: 1_000, ...defaults, ...extra });
  workers.push(worker);
  return worker;
}

async function stopWorkers(): Promise<void> {
  await Promise.all(workers.splice(0).map((w) => w.close()));
}

/** The value limit under which Redis keeps a hash compact (listpack): 64 unless configured. */
async function listpackValueLimit(): Promise<number> {
  try {
    const [, value] = (await redis.config('GET', 'hash-max-listpack-value')) as [string, string];
    return Number(value);
  } catch {
    return 64;
  }
}

describe('timeout jobs', () => {
  it('are stored with no payload, without their id in the options, every value within the small-hash limit', async () => {
    const orderId = newOrderId();
    await pump(orderId, Date.now() + 1_800_000);
    const hash = await redis.hgetall(jobKey(orderId));
    expect(hash.name).toBe('timeout');
    expect(hash.data).toBe('{}');
    expect(JSON.parse(hash.opts!)).toEqual({ attempts: 3, backoff: {}, delay: expect.any(Number) });
    for (const value of Object.values(hash)) expect(value.length).toBeLessThanOrEqual(Math.min(64, await listpackValueLimit()));
    expect(await redis.object('ENCODING', jobKey(orderId))).toBe('listpack');
    // BullMQ still knows it by its deterministic id, due at the deadline; the id names the order
    const job = await getJob(orderId);
    expect(job?.id).toBe(jobId.closeOrder(orderId));
    expect(orderIdOfCloseJob(job?.id)).toBe(orderId);
    expect(await job?.getState()).toBe('delayed');
    expect(await queues.hasCloseJob(orderId)).toBe(true);
    expect(await queues.removeCloseJob(orderId)).toBe(true);
  });

  it('a close run now is a close-order job with its ids and its options in full (any worker version runs it)', async () => {
    const orderId = newOrderId();
    await queues.scheduleClose({ orderId, goodsId: '1001' }, 60_000);
    const hash = await redis.hgetall(jobKey(orderId));
    expect(hash.name).toBe('close-order');
    expect(JSON.parse(hash.data!)).toEqual({ orderId, goodsId: '1001' });
    expect(JSON.parse(hash.opts!)).toEqual({
      attempts: 3,
      backoff: { type: 'exponential', delay: 200 },
      removeOnComplete: true,
      removeOnFail: { count: 10_000 },
      delay: 60_000,
    });
    expect(await queues.removeCloseJob(orderId)).toBe(true);
  });

  it('back off by the worker strategy (base, 2 × base), then fail and are kept; a completed one is removed', async () => {
    const failing = newOrderId();
    const fine = newOrderId();
    const runs: number[] = [];
    startWorker(async (job) => {
      if (orderIdOfCloseJob(job.id) !== failing) return;
      runs.push(Date.now());
      throw new Error('simulated: WeChat SYSTEMERROR');
    });
    await pump(failing);
    await pump(fine);

    await eventually(async () => ((await getJob(failing))?.finishedOn ? true : undefined), 10_000, 20);
    expect(runs).toHaveLength(retry.maxAttempts);
    [1, 2].forEach((attempt) => {
      const gap = runs[attempt]! - runs[attempt - 1]!;
      expect(gap).toBeGreaterThanOrEqual(closeBackoffMs(retry, attempt) - 5);
      expect(gap).toBeLessThan(closeBackoffMs(retry, attempt) + 1_500); // a loaded machine, not a longer schedule
    });
    expect(await (await getJob(failing))?.getState()).toBe('failed');
    await eventually(async () => ((await getJob(fine)) === undefined ? true : undefined), 5_000, 20);
    await stopWorkers();
  });

  it('close jobs written by the previous version (their own backoff and removal options) keep them under the current worker', async () => {
    const failing = newOrderId();
    const fine = newOrderId();
    // what the previous version wrote for every close job, the pumped ones included
    const previous = (orderId: string) => ({
      attempts: 3,
      backoff: { type: 'exponential', delay: 400 },
      removeOnComplete: true,
      removeOnFail: { count: 10_000 },
      jobId: jobId.closeOrder(orderId),
    });
    const plain = new Queue(QUEUE, { connection: redis, prefix: PREFIX });
    const runs: number[] = [];
    startWorker(async (job) => {
      if (job.data.orderId !== failing) return;
      runs.push(Date.now());
      throw new Error('simulated: WeChat SYSTEMERROR');
    });
    try {
      await plain.add('close-order', { orderId: failing, goodsId: '1001' }, previous(failing));
      await plain.add('close-order', { orderId: fine, goodsId: '1001' }, previous(fine));
      await eventually(async () => ((await getJob(failing))?.finishedOn ? true : undefined), 10_000, 20);
    } finally {
      await plain.close();
    }
    expect(runs).toHaveLength(3);
    // the job's own 400 ms base, not the worker's 200 ms
    expect(runs[1]! - runs[0]!).toBeGreaterThanOrEqual(395);
    expect(runs[2]! - runs[1]!).toBeGreaterThanOrEqual(795);
    expect(await (await getJob(failing))?.getState()).toBe('failed');
    expect(await getJob(fine)).toBeUndefined();
    await stopWorkers();
  });

  it('a worker of the previous version (no timeout handler) lets a timeout job go; once its lock lapses a current worker closes it', async () => {
    const orderId = newOrderId();
    // the previous version's dispatch: a job name without a handler is an error
    const previous = startWorker(async (job) => {
      throw new Error(`no handler for job ${job.name} in queue ${job.queueName}`);
    }, 'previous', { lockDuration: 500 }); // (WORKER_LOCK_MS: 30 s by default)
    const errors: string[] = [];
    previous.on('error', (err) => errors.push(err.message));
    await pump(orderId);
    await eventually(() => (errors.length > 0 ? true : undefined), 10_000, 20);
    expect(errors[0]).toMatch(/Unknown backoff strategy/);
    expect(await (await getJob(orderId))?.getState()).toBe('active'); // let go, not failed: no attempt used
    await stopWorkers();

    const closed: string[] = [];
    startWorker(async (job) => void closed.push(job.id!));
    await eventually(() => (closed.includes(jobId.closeOrder(orderId)) ? true : undefined), 10_000, 20);
    await eventually(async () => ((await getJob(orderId)) === undefined ? true : undefined), 5_000, 20);
    await stopWorkers();
  });

  it('the worker strategy refuses a backoff type it does not know (instead of guessing a schedule)', () => {
    const strategy = workerDefaults(QUEUE, retry).settings?.backoffStrategy;
    expect(strategy?.(1, undefined)).toBe(200);
    expect(strategy?.(3, undefined)).toBe(800);
    expect(() => strategy?.(1, 'linear')).toThrow(/unknown backoff strategy linear/);
    expect(workerDefaults('payment-result', retry)).toEqual({});
  });
});
