/**
 * `npm run bench:memory` — Redis bytes per pending order with its delayed close job (issue 16,
 * target ≤ 1,000 bytes at 1,000,000 pending).
 *
 * For each size it starts a redis-server of its own on a free loopback port (never the
 * machine's shared Redis: it fills gigabytes), then creates the pending orders exactly as
 * production does:
 * 1. goods loaded by the real loadGoods script (and listed as live, as ensureGoodsLoaded does);
 * 2. every order grabbed by the real reserveOrder script (order hash, held entry, buyer key,
 *    timer request), pipelined; a distinct buyer per order;
 * 3. the real timer pump (src/workers/timer-pump.ts) turning the timer requests into BullMQ
 *    delayed jobs `timeout-<orderId>` through the real Queues.
 * `INFO memory` used_memory is read before, after the grabs and after the pump; the difference
 * per order is the figure. The breakdown is `MEMORY USAGE … SAMPLES 0` of samples of each key
 * kind (key name, main-dict entry and value) and of the shared zsets, lists and stream divided
 * by the number of orders, plus the main keyspace's bucket array (which no key's MEMORY USAGE
 * includes); what remains unattributed is allocator rounding MEMORY USAGE does not see.
 * Single-process and on a private Redis, so the load of a shared machine slows it but does
 * not change the bytes.
 *
 * Environment: BENCH_PENDING (comma-separated sizes, "100000,1000000"), BENCH_GOODS (goods the
 * orders spread over, 10), BENCH_SAMPLES (keys of each kind measured, 2000), BENCH_JSON=<file>
 * (write the figures as JSON). KEY_PREFIX, QUEUE_PREFIX, ORDER_TIMEOUT_MS, CLOSE_MAX_ATTEMPTS
 * and CLOSE_BACKOFF_MS are read as the services read them (their lengths and values are stored).
 * Ids: goods 1001, 1002, … (order ids of 23 digits), buyers `buyer-<10 digits>` (16 characters).
 */
import { writeFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { loadConfig } from '../src/config/env.js';
import { OrderIdGenerator } from '../src/domain/orders/order-id.js';
import { Transition } from '../src/domain/orders/transition-codes.js';
import { Queues } from '../src/infra/queues/queues.js';
import { QUEUE_OF, jobId } from '../src/infra/queues/catalogue.js';
import { closeRedis, createRedis } from '../src/infra/redis/client.js';
import { keySpace } from '../src/infra/redis/keys.js';
import { pumpTimers } from '../src/workers/timer-pump.js';
import { PrivateRedis } from '../test/helpers/redis-server.js';
import { intEnv } from './lib/common.js';
import { describeMachine } from './lib/machine.js';
import { encodings, mainDictSlotBytes, meanMemoryOf, memoryOf, spread, usedMemory } from './lib/memory-probe.js';

const TARGET_BYTES = 1_000;
const RESERVE_BATCH = 5_000;

const sizes = (process.env.BENCH_PENDING ?? '100000,1000000').split(',').map((s) => {
  const n = Number(s.trim());
  if (!Number.isInteger(n) || n <= 0) throw new Error(`BENCH_PENDING: ${JSON.stringify(s)} is not a positive integer`);
  return n;
});
const goodsCount = intEnv('BENCH_GOODS', 10);
const sampleCount = intEnv('BENCH_SAMPLES', 2_000);
const config = loadConfig(process.env);
const silent = pino({ level: 'silent' });
const keys = keySpace(config.keyPrefix);
const goodsIds = Array.from({ length: goodsCount }, (_, g) => String(1001 + g));
const buyerOf = (i: number) => `buyer-${String(i).padStart(10, '0')}`;

/** One line of the breakdown: bytes per pending order. */
interface Part {
  part: string;
  /** what it belongs to; the timer request is gone once pumped, so it is not in the total */
  of: 'order state' | 'timer request' | 'delayed job' | 'keyspace';
  bytes: number;
  how: string;
}

interface SizeFigures {
  pending: number;
  /** (used_memory after the grabs − before) / pending: order state + timer request */
  afterGrabs: number;
  /** (used_memory after the pump − before) / pending: order state + delayed job, the figure */
  perOrder: number;
  parts: Part[];
  seconds: { grabs: number; pump: number };
}

/** On a terminal one line rewritten in place; otherwise (a log) a line every 10 %. */
let lastDecile = -1;
function progress(text: string, done: number, of: number): void {
  if (process.stdout.isTTY) {
    process.stdout.write(`\r  ${text} ${done.toLocaleString('en')} / ${of.toLocaleString('en')}`.padEnd(78));
    return;
  }
  const decile = Math.floor((done / of) * 10);
  if (decile !== lastDecile) console.log(`  ${text} ${done.toLocaleString('en')} / ${of.toLocaleString('en')}`);
  lastDecile = decile;
}
const endProgress = () => {
  if (process.stdout.isTTY) process.stdout.write(`\r${' '.repeat(80)}\r`);
  lastDecile = -1;
};
const seconds = (since: number) => (performance.now() - since) / 1000;

async function loadAllGoods(redis: Redis, stockEach: number): Promise<void> {
  const now = Date.now();
  for (const goodsId of [...goodsIds, '1000']) {
    const k = keys.forGoods(goodsId);
    const [code] = await redis.loadGoods(k.goods, k.stock, k.held, k.paidPending, k.soldAcks, `bench goods ${goodsId}`, 9_900, now - 60_000, now + 86_400_000, stockEach, '0');
    if (code !== Transition.Done) throw new Error(`loadGoods ${goodsId} answered ${code}`);
    await redis.sadd(keys.liveGoods, goodsId);
  }
}

/**
 * Grab `n` orders through reserveOrder, pipelined, two pipelines in flight (one is being built
 * while Redis runs the other); returns their ids in order of creation.
 */
async function grab(redis: Redis, ids: OrderIdGenerator, n: number): Promise<string[]> {
  const orderIds: string[] = [];
  let done = 0;
  const batch = async (start: number) => {
    const pipeline = redis.pipeline();
    for (let i = start; i < Math.min(n, start + RESERVE_BATCH); i += 1) {
      const goodsId = goodsIds[i % goodsCount]!;
      const k = keys.forGoods(goodsId);
      const orderId = ids.next(goodsId);
      orderIds[i] = orderId;
      pipeline.reserveOrder(k.goods, k.stock, k.held, k.order(orderId), k.buyer(buyerOf(i)), k.timers, orderId, buyerOf(i), goodsId, config.orderTimeoutMs);
    }
    for (const [err, reply] of (await pipeline.exec()) ?? []) {
      if (err) throw err;
      const code = (reply as [Transition])[0];
      if (code !== Transition.Done) throw new Error(`reserveOrder answered ${code}`);
    }
    done += Math.min(RESERVE_BATCH, n - start);
    progress('grabs', done, n);
  };
  let next = 0;
  const lane = async () => {
    while (next < n) {
      const start = next;
      next += RESERVE_BATCH;
      await batch(start);
    }
  };
  await Promise.all([lane(), lane()]);
  return orderIds;
}

/** The workers' real pump, until every timer request is a delayed job; progress from a probe. */
async function pump(redis: Redis, probe: Redis, queues: Queues, delayedKey: string, n: number): Promise<void> {
  const timer = setInterval(() => {
    void probe.zcard(delayedKey).then((jobs) => progress('delayed jobs', jobs, n), () => undefined);
  }, 1_000);
  try {
    let pumped = 0;
    while (pumped < n) {
      const passed = await pumpTimers({ redis, keys, queues, logger: silent }, { walkAll: true });
      if (passed === 0) throw new Error(`the pump stopped after ${pumped} of ${n} timers`);
      pumped += passed;
    }
  } finally {
    clearInterval(timer);
  }
}

async function measure(n: number, priv: PrivateRedis): Promise<SizeFigures> {
  const redis = createRedis(priv.url, 'worker', silent, 'bench-memory');
  const queueRedis = createRedis(priv.url, 'worker', silent, 'bench-memory-queues');
  const probe = createRedis(priv.url, 'worker', silent, 'bench-memory-probe');
  const queues = new Queues(queueRedis, config.queuePrefix, config.close, silent);
  const queue = queues.byName[QUEUE_OF.timeout];
  try {
    await loadAllGoods(redis, Math.ceil(n / goodsCount) + 1);
    // warm-up on goods 1000: scripts cached, the queue's meta and id keys created (fixed costs)
    const warm = keys.forGoods('1000');
    const warmId = new OrderIdGenerator(0).next('1000');
    await redis.reserveOrder(warm.goods, warm.stock, warm.held, warm.order(warmId), warm.buyer('warm-up'), warm.timers, warmId, 'warm-up', '1000', config.orderTimeoutMs);
    await pumpTimers({ redis, keys, queues, logger: silent }, { walkAll: true });
    const before = await usedMemory(probe);
    const bucketsBefore = await mainDictSlotBytes(probe);

    let since = performance.now();
    const orderIds = await grab(redis, new OrderIdGenerator(1), n);
    const grabSeconds = seconds(since);
    endProgress();
    const afterGrabs = await usedMemory(probe);
    const samples = spread(n, sampleCount);
    const goodsKeys = goodsIds.map((g) => keys.forGoods(g));
    const timersBytes = await memoryOf(probe, goodsKeys.map((k) => k.timers));

    since = performance.now();
    await pump(redis, probe, queues, queue.toKey('delayed'), n);
    const pumpSeconds = seconds(since);
    endProgress();
    const after = await usedMemory(probe);

    const orderKeys = samples.map((i) => keys.forGoods(goodsIds[i % goodsCount]!).order(orderIds[i]!));
    const buyerKeys = samples.map((i) => keys.forGoods(goodsIds[i % goodsCount]!).buyer(buyerOf(i)));
    const jobKeys = samples.map((i) => queue.toKey(jobId.closeOrder(orderIds[i]!)));
    const sampled = async (what: string[]) => `mean of ${what.length} (${await encodings(probe, what)})`;
    const parts: Part[] = [
      { part: 'order hash', of: 'order state', bytes: await meanMemoryOf(probe, orderKeys), how: await sampled(orderKeys) },
      { part: 'held zset entry', of: 'order state', bytes: (await memoryOf(probe, goodsKeys.map((k) => k.held))) / n, how: `Σ ${goodsCount} held zsets / N` },
      { part: 'buyer key', of: 'order state', bytes: await meanMemoryOf(probe, buyerKeys), how: await sampled(buyerKeys) },
      { part: 'timer request', of: 'timer request', bytes: timersBytes / n, how: 'Σ timers lists / N before the pump (LPOPed by it: 0 after)' },
      { part: 'job hash', of: 'delayed job', bytes: await meanMemoryOf(probe, jobKeys), how: await sampled(jobKeys) },
      { part: 'delayed zset entry', of: 'delayed job', bytes: (await memoryOf(probe, [queue.toKey('delayed')])) / n, how: "the queue's delayed zset / N" },
      { part: 'events stream share', of: 'delayed job', bytes: (await memoryOf(probe, [queue.toKey('events')])) / n, how: "the queue's events stream / N (capped: a fixed cost)" },
      { part: 'keyspace buckets', of: 'keyspace', bytes: ((await mainDictSlotBytes(probe)) - bucketsBefore) / n, how: 'main dict slots, 8 B each, a power of two ≥ the keys (3 per order)' },
    ];
    const perOrder = (after - before) / n;
    const attributed = parts.filter((p) => p.of !== 'timer request').reduce((sum, p) => sum + p.bytes, 0);
    // 3 keys + 2 zset entries × 8 B ≈ 40 B; more where a hash is a hashtable (its field entries too)
    parts.push({ part: 'unattributed', of: 'keyspace', bytes: perOrder - attributed, how: 'used_memory Δ / N − the above: MEMORY USAGE counts a dict entry 24 B, jemalloc gives 32' });
    return { pending: n, afterGrabs: (afterGrabs - before) / n, perOrder, parts, seconds: { grabs: grabSeconds, pump: pumpSeconds } };
  } finally {
    await queues.close().catch(() => undefined);
    await Promise.all([closeRedis(redis), closeRedis(queueRedis), closeRedis(probe)]);
  }
}

function report(f: SizeFigures): void {
  const b = (x: number) => Math.round(x).toLocaleString('en').padStart(7);
  console.log(`\n${f.pending.toLocaleString('en')} pending orders (grabs ${f.seconds.grabs.toFixed(1)} s, pump ${f.seconds.pump.toFixed(1)} s)`);
  console.log(`  ${'part'.padEnd(26)} bytes/order  how`);
  for (const p of f.parts) console.log(`  ${p.part.padEnd(26)} ${b(p.bytes)}      ${p.how}`);
  const sum = (of: Part['of']) => f.parts.filter((p) => p.of === of).reduce((total, p) => total + p.bytes, 0);
  console.log(`  order state (hash + held + buyer) ${b(sum('order state'))}; delayed job (hash + delayed entry + stream) ${b(sum('delayed job'))}; keyspace ${b(sum('keyspace'))}`);
  console.log(`  used_memory Δ / N after the grabs (order state + timer request): ${b(f.afterGrabs)}`);
  const verdict = f.perOrder <= TARGET_BYTES ? 'met' : 'NOT met';
  console.log(`  used_memory Δ / N after the pump (order state + delayed job):  ${b(f.perOrder)}   target ≤ ${TARGET_BYTES.toLocaleString('en')}: ${verdict}`);
}

async function main(): Promise<void> {
  console.log(`bench:memory — KEY_PREFIX ${config.keyPrefix}, QUEUE_PREFIX ${config.queuePrefix}, ${goodsCount} goods, sizes ${sizes.join(', ')}`);
  const results: SizeFigures[] = [];
  let machine: Awaited<ReturnType<typeof describeMachine>> | undefined;
  for (const n of sizes) {
    const priv = await PrivateRedis.start();
    // Ctrl-C or kill: the private redis-server (gigabytes at 1M) goes with us
    const stop = () => void priv.destroy().finally(() => process.exit(130));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      if (!machine) {
        const client = createRedis(priv.url, 'worker', silent, 'bench-memory-machine');
        machine = await describeMachine(client);
        await closeRedis(client);
        console.log(`machine: ${machine.cpus} CPUs ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}, Redis ${machine.redis} (private, port ${priv.port})`);
      }
      const figures = await measure(n, priv);
      results.push(figures);
      report(figures);
    } finally {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      await priv.destroy();
    }
  }
  if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify({ date: new Date().toISOString(), machine, results }, null, 2));
}

await main();
