/**
 * `npm run bench:timeouts` — the order-timeout path (design §4.6) under load, against the original
 * design's timer (docs/original-design.md: RabbitMQ per-message TTL + dead-letter queue). One run, this
 * machine, loopback only; everything it creates is its own and is removed at the end.
 *
 * Processes: the WeChat sandbox (src/sandbox/main.ts, its own SANDBOX_PORT), worker processes
 * exactly as deployed (src/workers/main.ts), the original design's consumer
 * (bench/timeouts/original-consumer.ts, the same close work per order). This process sets up
 * orders and measures; Redis, MariaDB and RabbitMQ are the machine's.
 *
 *  (a) drain: N unpaid orders due at the same instant T0 (created at the sandbox with
 *      unifiedorder, reserved with the reserveOrder script in pipelines, whose timer requests the
 *      workers' timer pump turns into delayed jobs with addBulk), closed through the whole path
 *      (BullMQ → CAS → closeorder over HTTP → Lua restock → MySQL) by 1 and by 2 worker
 *      processes: closes/s = N / (last closedAt − T0).
 *  (b) the same N and work, timed by RabbitMQ per-message TTL on a delay queue dead-lettered to a
 *      consumer queue, one consumer process; ratio (a)/(b). The consumer writes each close to MySQL
 *      (one autocommitted statement) before it acks (`per-message`: the original design), and again
 *      through our outbox persister (`outbox`: the timers alone compared); BENCH_ORIGINAL picks.
 *  (c) lateness: orders falling due at steady rates (each of BENCH_RATES/s for BENCH_RATE_S s:
 *      200/s, then the 1,000/s steady section), each after an unmeasured warm-up burst;
 *      p50/p95/p99 of closedAt − deadline (both stamped by Redis in the order hash).
 *  (d) head-of-line: one order with a 20 s window, then 100 with 1 s: lateness of the short ones,
 *      ours (BullMQ delayed jobs) and the original's (TTL only expires at the queue head).
 * The drains run back to back (fresh processes each), so ours and the original's see the same
 * machine; then (c) and (d) on fresh processes. Every drain checks the outcome: all N CLOSED in
 * Redis and MySQL, each closed exactly once in the sandbox's ledger, stock back to N.
 *
 * Environment: BENCH_N (20000), BENCH_WORKERS ("1,2"), BENCH_RATES ("200,1000"; BENCH_RATE, one
 * rate, is still read), BENCH_RATE_S (20),
 * BENCH_WARMUP_S (3: an unmeasured burst of rate × this many orders before (c)),
 * BENCH_SECTIONS ("drain,original,lateness,hol"), BENCH_ORIGINAL ("per-message,outbox"), BENCH_LOG_LEVEL (info: what production runs),
 * BENCH_PROFILE=1 (V8 CPU profiles of the worker / consumer processes, in the log directory),
 * BENCH_JSON=<file> (the figures as JSON), BENCH_DUMP=<prefix> (per-order lateness of (c));
 * WORKER_CONCURRENCY and the other configuration variables pass through to the
 * children. REDIS_URL, AMQP_URL, TEST_DATABASE_URL choose the servers.
 * BENCH_REDIS=cluster: the same on a private Redis Cluster of three masters started for the run
 * (bench/timeouts/cluster.ts) with QUEUE_SHARDS (default 3); the report adds what each master
 * did (keys at the drain's peak, commands, Lua calls, CPU).
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { request } from 'undici';
import { loadConfig } from '../src/config/env.js';
import { createGoods } from '../src/domain/goods/goods-service.js';
import { createOrderIdGenerator } from '../src/domain/orders/order-id.js';
import { closeAmqp, createAmqp } from '../src/infra/amqp/connection.js';
import { waitForRedis } from '../src/infra/context.js';
import { Queues } from '../src/infra/queues/queues.js';
import { closeRedis, createRedisClient } from '../src/infra/redis/client.js';
import { keySpace } from '../src/infra/redis/keys.js';
import { WeChatPayClient } from '../src/infra/wechat/client.js';
import { type TestDatabase, createTestDatabase } from '../test/helpers/db.js';
import { freePort } from '../test/helpers/redis-server.js';
import { cpuSeconds, describeMachine, pidOf, redisCpuSeconds } from './lib/machine.js';
import { type BenchOrder, type Lateness, createAtWeChat, lateness, planOrders, readClosed, reserveAll, waitForTimers, waitUntilAllClosed } from './timeouts/orders.js';
import { deleteOriginalTopology, originalTimerNames, originalTopology, sendTimerMessage } from './timeouts/original-timer.js';
import { type Child, forkTs, spawnTs } from './timeouts/processes.js';
import { SERVER_NODE_FLAGS } from '../src/infra/node-flags.js';
import { intEnv, deleteKeys } from './lib/common.js';
import { type MasterFigures, benchOnCluster, closeQueues, masterDelta, readMasters, startBenchCluster } from './timeouts/cluster.js';
import { isolatedNames } from '../test/helpers/app.js';


const SECTIONS = ['drain', 'original', 'lateness', 'hol'] as const;
/**
 * How the original design's consumer reaches MySQL (bench/timeouts/original-consumer.ts):
 * `per-message` — each close written by itself (one autocommitted statement) before the message
 * is acked, as the original listener (and this project's first version, which the outbox issue
 * measured at 0.94) did;
 * `outbox` — through this project's outbox persister, i.e. the original timer with our batching.
 */
const ORIGINAL_MODES = ['per-message', 'outbox'] as const;
type OriginalMode = (typeof ORIGINAL_MODES)[number];
const options = {
  n: intEnv('BENCH_N', 20_000),
  workers: (process.env.BENCH_WORKERS ?? '1,2').split(',').map((s) => Number(s.trim())).filter((w) => Number.isInteger(w) && w > 0),
  rates: (process.env.BENCH_RATES ?? process.env.BENCH_RATE ?? '200,1000').split(',').map((s) => Number(s.trim())).filter((r) => Number.isInteger(r) && r > 0),
  rateSeconds: intEnv('BENCH_RATE_S', 20),
  warmupS: Number(process.env.BENCH_WARMUP_S ?? 3),
  sections: new Set((process.env.BENCH_SECTIONS ?? SECTIONS.join(',')).split(',').map((s) => s.trim())),
  originals: (process.env.BENCH_ORIGINAL ?? ORIGINAL_MODES.join(',')).split(',').map((s) => s.trim()) as OriginalMode[],
  logLevel: process.env.BENCH_LOG_LEVEL ?? 'info',
  profile: process.env.BENCH_PROFILE === '1',
  holShort: 100,
  holShortMs: 1_000,
  holLongMs: 20_000,
};
for (const s of options.sections) if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`BENCH_SECTIONS: unknown section ${s} (${SECTIONS.join(', ')})`);
for (const m of options.originals) if (!(ORIGINAL_MODES as readonly string[]).includes(m)) throw new Error(`BENCH_ORIGINAL: unknown mode ${m} (${ORIGINAL_MODES.join(', ')})`);

const TARGET_ORIGINAL_RATIO = 1.5; // (a) with 2 processes ≥ 1.5 × (b), the outbox issue's target
const TARGET_P99_MS = 250;
/** issue 16: at 1,000 orders/s falling due (2 workers) the close lateness p99 target is tighter */
const targetP99At = (rate: number) => (rate >= 1_000 ? 100 : TARGET_P99_MS);

const id = randomBytes(4).toString('hex');
const silent = pino({ level: 'silent' });
const say = (line: string) => process.stderr.write(`${line}\n`);
const sleepUntil = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));

interface DrainFigures {
  timer: string;
  /** the original's consumer: how it reaches MySQL */
  persist?: OriginalMode;
  processes: number;
  n: number;
  /** setup finished this long after T0 (0: on time) */
  setupOverrunMs: number;
  firstCloseMs: number;
  drainMs: number;
  closesPerSec: number;
  /** N / (last − first close) */
  steadyClosesPerSec: number;
  latenessP50: number;
  latenessP99: number;
  cpuSeconds: Record<string, number>;
  jobCounts?: Record<string, number>;
}

interface LatenessFigures extends Lateness {
  timer: string;
  processes: number;
  rate: number;
}

async function main(): Promise<void> {
  const db: TestDatabase = await createTestDatabase();
  const onCluster = benchOnCluster ? await startBenchCluster() : undefined;
  const sandboxPort = await freePort();
  const timerPrefix = `bench.${id}.timer`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: db.url,
    ...isolatedNames('btm', 'bench', id),
    SANDBOX_HOST: '127.0.0.1',
    SANDBOX_PORT: String(sandboxPort),
    WECHAT_PAY_BASE_URL: `http://127.0.0.1:${sandboxPort}`,
    WORKER_METRICS_PORT: '0',
    LOG_LEVEL: options.logLevel,
    BENCH_TIMER_PREFIX: timerPrefix,
    // The orders are created at the sandbox moments before they fall due; WeChat's 5-minute close
    // rule would only make every close wait (both designs alike). The bench measures the close
    // path's own cost, so the rule is off here (tested in test/worker/close-rule.test.ts).
    SANDBOX_CLOSE_RULE: 'off',
    WECHAT_CLOSE_MIN_AGE_MS: '0',
    ...onCluster?.env,
  };
  const config = loadConfig(env);
  const redis = createRedisClient(config, 'worker', silent, 'bench-timeouts');
  const keys = keySpace(config.keyPrefix);
  const queues = new Queues(redis, config.queuePrefix, config.close, silent, config.queueShards);
  // every shard's close queue as one (with one shard: that queue)
  const closeQueue = closeQueues(queues);
  const peakKeys = new Map<string, number>();
  const amqp = createAmqp(config.amqpUrl, silent, 'bench-timeouts');
  const timerNames = originalTimerNames(timerPrefix);
  const wechat = new WeChatPayClient({ ...config.wechat, connections: 64 });
  const logDir = mkdtempSync(join(tmpdir(), 'bench-timeouts-'));
  const children: Child[] = [];

  let cleaned = false;
  const cleanUp = async () => {
    if (cleaned) return;
    cleaned = true;
    for (const child of children) await child.stop(5_000).catch(() => undefined);
    await queues.close().catch(() => undefined);
    // a private cluster goes away whole; the shared Redis keeps only what is not ours
    const deleted = onCluster ? 0 : await deleteKeys(redis as Redis, [`${config.keyPrefix}:*`, `${config.queuePrefix}:*`]).catch(() => -1);
    await deleteOriginalTopology(amqp, timerNames);
    for (const queue of [config.amqp.queue, config.amqp.deadLetterQueue]) await amqp.queueDelete({ queue }).catch(() => undefined);
    await amqp.exchangeDelete({ exchange: config.amqp.exchange }).catch(() => undefined);
    await closeAmqp(amqp);
    await wechat.close().catch(() => undefined);
    await closeRedis(redis);
    await db.drop().catch(() => undefined);
    await onCluster?.cluster.destroy();
    say(`cleaned up: ${deleted} Redis keys, database ${db.name}, AMQP ${timerPrefix}.* and bench.${id}.*; logs in ${logDir}`);
  };
  process.once('SIGINT', () => void cleanUp().finally(() => process.exit(130)));

  const start = (name: string, entry: string, extra: NodeJS.ProcessEnv = {}, ipc = false) => {
    // BENCH_PROFILE=1: CPU profiles of the timer processes (not the sandbox) into the log directory
    // (one directory per process: tsx's loader thread writes a profile of its own)
    const profile = options.profile && name !== 'sandbox' ? ['--cpu-prof', `--cpu-prof-dir=${join(logDir, `${name}-profile`)}`] : [];
    // the timer processes (our workers and the original's consumer alike) with the flags a
    // deployed worker runs with (src/infra/node-flags.ts)
    const flags = name === 'sandbox' ? [] : SERVER_NODE_FLAGS;
    const child = (ipc ? forkTs : spawnTs)(name, entry, { ...env, ...extra }, join(logDir, `${name}.log`), [...flags, ...profile]);
    children.push(child);
    return child;
  };
  const stopChild = async (child: Child) => {
    const code = await child.stop();
    children.splice(children.indexOf(child), 1);
    if (code !== 0) say(`warning: ${child.name} exited with ${code}; see ${child.logFile}`);
  };

  try {
    await waitForRedis(redis, config.redisUrl);
    const machine = await describeMachine(redis);
    if (onCluster) say(`Redis Cluster: ${onCluster.env.REDIS_URL}, QUEUE_SHARDS ${config.queueShards} (${queues.shards.map((sh) => sh.prefix).join(' ')})`);
    const mastersAtStart = onCluster ? await readMasters(redis) : [];
    say(`machine: ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.memoryGiB} GiB, node ${machine.node}, redis ${machine.redis}`);
    say(`options: ${JSON.stringify({ ...options, sections: [...options.sections] })}, WORKER_CONCURRENCY ${config.workerConcurrency}`);
    // the machine is shared: a busy machine at the start is worth knowing when reading the figures
    say(`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

    const sandbox = start('sandbox', 'src/sandbox/main.ts', { LOG_LEVEL: 'warn' });
    await waitForHttp(`${config.wechat.baseUrl}/sandbox/health`);
    const resetSandbox = async () => void (await request(`${config.wechat.baseUrl}/sandbox/reset`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).body.dump();
    const closedAtWeChat = async (orders: BenchOrder[]) => {
      const res = await request(`${config.wechat.baseUrl}/sandbox/ledger`);
      const ledger = (await res.body.json()) as { closed: { out_trade_no: string }[] };
      const wanted = new Set(orders.map((o) => o.orderId));
      const closed = ledger.closed.filter((e) => wanted.has(e.out_trade_no));
      return { closed: closed.length, distinct: new Set(closed.map((e) => e.out_trade_no)).size };
    };

    const ids = await createOrderIdGenerator(redis, keys.nodeSequence);
    const goods = async (label: string, stockCount: number) =>
      (await createGoods({ prisma: db.prisma, redis, keys, logger: silent }, {
        title: `bench timeouts ${label}`,
        price: 100,
        stockCount,
        startTime: new Date(Date.now() - 3_600_000),
        endTime: new Date(Date.now() + 24 * 3_600_000),
      })).id;

    // CPU seconds of every process involved, so a run says where the time went
    const cpuProbe = (timerProcs: Child[]) => {
      const mariadb = pidOf('mariadbd') ?? pidOf('mysqld');
      const rabbit = pidOf('beam.smp');
      return async (): Promise<Record<string, number>> => {
        const figures: Record<string, number> = {};
        timerProcs.forEach((c) => (figures[c.name] = cpuSeconds(c.pid)));
        figures.sandbox = cpuSeconds(sandbox.pid);
        figures.redis = await redisCpuSeconds(redis);
        if (mariadb) figures.mariadb = cpuSeconds(mariadb);
        if (rabbit) figures.rabbitmq = cpuSeconds(rabbit);
        const own = process.cpuUsage();
        figures.bench = (own.user + own.system) / 1e6;
        return figures;
      };
    };
    const cpuDelta = (a: Record<string, number>, b: Record<string, number>) =>
      Object.fromEntries(Object.keys(b).map((k) => [k, Math.round(((b[k] ?? 0) - (a[k] ?? 0)) * 100) / 100]));

    const expectAllClosed = async (goodsId: string, orders: BenchOrder[]) => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const rows = await db.prisma.seckillOrder.count({ where: { goodsId: BigInt(goodsId), status: 'CLOSED' } });
        if (rows === orders.length) break;
        if (Date.now() > deadline) throw new Error(`MySQL has ${rows} CLOSED orders of ${orders.length}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const atWeChat = await closedAtWeChat(orders);
      if (atWeChat.closed !== orders.length || atWeChat.distinct !== orders.length) throw new Error(`sandbox ledger: ${JSON.stringify(atWeChat)} of ${orders.length}`);
      const available = Number(await redis.get(keys.forGoods(goodsId).stock));
      if (available !== orders.length) throw new Error(`available stock ${available}, expected ${orders.length}`);
    };

    /** (a)/(b): N orders due at T0, timed by `timer`, closed by `procs`. */
    const drain = async (timer: 'bullmq' | 'rabbitmq-ttl', procs: Child[], mode?: OriginalMode): Promise<DrainFigures> => {
      const label = `${timer}${mode ? `-${mode}` : ''}-${procs.length}p`;
      await resetSandbox();
      const goodsId = await goods(label, options.n);
      const orders = planOrders(ids, goodsId, label, new Array<number>(options.n).fill(0));
      const timers = keys.forGoods(goodsId).timers;
      let t = Date.now();
      await createAtWeChat(wechat, goodsId, orders);
      say(`${label}: ${options.n} orders created at the sandbox in ${Date.now() - t} ms`);

      // reservations + timers must be in place before T0 (~0.35 ms per order on a busy 2-core machine)
      const T0 = Date.now() + 2_000 + Math.ceil(options.n * 0.5);
      for (const o of orders) o.due = T0;
      t = Date.now();
      // ours: the script queues each timer request and the workers' pump adds the delayed jobs;
      // the original has no such list (its requests go to one nobody pumps, then dropped)
      await reserveAll(redis, keys, goodsId, orders, timer === 'bullmq' ? timers : `${timers}:unused`);
      const reserved = Date.now();
      if (timer === 'bullmq') {
        await waitForTimers(redis, closeQueue, timers, orders.length);
      } else {
        await redis.del(`${timers}:unused`);
        const publisher = amqp.createPublisher({ confirm: true, ...originalTopology(timerNames) });
        try {
          for (let i = 0; i < orders.length; i += 1_000) {
            await Promise.all(orders.slice(i, i + 1_000).map((o) => sendTimerMessage(publisher, timerNames, { orderId: o.orderId, goodsId }, o.due - Date.now())));
          }
        } finally {
          await publisher.close();
        }
      }
      const setupDone = Date.now();
      if (onCluster) for (const m of await readMasters(redis)) peakKeys.set(m.node, Math.max(peakKeys.get(m.node) ?? 0, m.keys));
      say(`${label}: reserved in ${reserved - t} ms, all timers set ${setupDone - reserved} ms later (T0 ${setupDone <= T0 ? `${T0 - setupDone} ms later` : `passed ${setupDone - T0} ms ago`})`);

      const probe = cpuProbe(procs);
      await sleepUntil(T0);
      const cpu0 = await probe();
      await waitUntilAllClosed(redis, keys, goodsId, 60_000, async () => JSON.stringify(await closeQueue.getJobCounts()));
      const cpu1 = await probe();
      const closed = await readClosed(redis, keys, goodsId, orders);
      const notClosed = closed.filter((c) => c.status !== 'CLOSED');
      if (notClosed.length) throw new Error(`${notClosed.length} orders are not CLOSED, e.g. ${JSON.stringify(notClosed[0])}`);
      await expectAllClosed(goodsId, orders);

      const first = Math.min(...closed.map((c) => c.closedAt));
      const last = Math.max(...closed.map((c) => c.closedAt));
      const late = lateness(closed);
      const figures: DrainFigures = {
        timer,
        ...(mode ? { persist: mode } : {}),
        processes: procs.length,
        n: orders.length,
        setupOverrunMs: Math.max(0, setupDone - T0),
        firstCloseMs: first - T0,
        drainMs: last - T0,
        closesPerSec: Math.round((orders.length * 1000) / (last - T0)),
        steadyClosesPerSec: Math.round((orders.length * 1000) / Math.max(1, last - first)),
        latenessP50: late.p50,
        latenessP99: late.p99,
        cpuSeconds: cpuDelta(cpu0, cpu1),
        ...(timer === 'bullmq' ? { jobCounts: await closeQueue.getJobCounts() } : {}),
      };
      say(`${label}: ${figures.closesPerSec} closes/s (${orders.length} in ${figures.drainMs} ms after T0; first close after ${figures.firstCloseMs} ms); CPU s ${JSON.stringify(figures.cpuSeconds)}`);
      return figures;
    };

    /**
     * (c): orders falling due at `rate`/s for `seconds` s, closed by the running workers. First a
     * warm-up burst (rate × warmupS orders due at once, unmeasured): worker processes live for
     * days, and a fresh process's first seconds (MySQL and WeChat pools filling, JIT, Prisma's
     * first plans) are not its steady state; they are reported apart.
     */
    const steadyLateness = async (procs: Child[], rate: number): Promise<LatenessFigures> => {
      const label = `steady-${procs.length}p-${rate}`;
      await resetSandbox();
      const warmN = Math.round(rate * options.warmupS);
      const total = rate * options.rateSeconds;
      const goodsId = await goods(label, warmN + total);
      const warm = planOrders(ids, goodsId, `${label}-warm`, new Array<number>(warmN).fill(0));
      const orders = planOrders(ids, goodsId, label, new Array<number>(total).fill(0));
      await createAtWeChat(wechat, goodsId, [...warm, ...orders]);
      let cold: Lateness | undefined;
      if (warmN > 0) {
        warm.forEach((o) => (o.due = Date.now() + 500));
        await reserveAll(redis, keys, goodsId, warm);
        await waitUntilAllClosed(redis, keys, goodsId);
        cold = lateness(await readClosed(redis, keys, goodsId, warm));
      }
      // as the drain's T0: room for the reservations and the pump (≈ 0.35 ms per order on a busy
      // 2-core machine), so the measured deadlines start after the set-up
      const T1 = Date.now() + 2_000 + Math.ceil(total * 0.5);
      orders.forEach((o, i) => (o.due = T1 + Math.round((i * 1000) / rate)));
      await reserveAll(redis, keys, goodsId, orders);
      await waitForTimers(redis, closeQueue, keys.forGoods(goodsId).timers, orders.length, 60_000, keys.forGoods(goodsId).held);
      if (Date.now() > T1) say(`warning: ${label} set-up ended ${Date.now() - T1} ms after the first deadline`);
      await sleepUntil(orders.at(-1)!.due);
      await waitUntilAllClosed(redis, keys, goodsId);
      const closed = await readClosed(redis, keys, goodsId, orders);
      await expectAllClosed(goodsId, [...warm, ...orders]);
      if (process.env.BENCH_DUMP) writeFileSync(`${process.env.BENCH_DUMP}-${procs.length}p.json`, JSON.stringify(closed));
      const figures = { timer: 'bullmq', processes: procs.length, rate, ...lateness(closed) };
      const warmNote = cold ? ` (after a warm-up burst of ${warmN} due at once: p50 ${cold.p50} ms, max ${cold.max} ms)` : '';
      say(`${label}: lateness over ${total} orders at ${rate}/s: p50 ${figures.p50} ms, p95 ${figures.p95} ms, p99 ${figures.p99} ms, max ${figures.max} ms${warmNote}`);
      return figures;
    };

    /** (d): one long-window order, then `holShort` short-window ones; lateness of the short ones. */
    const headOfLine = async (timer: 'bullmq' | 'rabbitmq-ttl'): Promise<LatenessFigures> => {
      const label = `hol-${timer}`;
      const goodsId = await goods(label, options.holShort + 1);
      const now = Date.now();
      const long = planOrders(ids, goodsId, `${label}-long`, [now + options.holLongMs]);
      const short = planOrders(ids, goodsId, `${label}-short`, new Array<number>(options.holShort).fill(now + options.holShortMs));
      const timers = keys.forGoods(goodsId).timers;
      const list = timer === 'bullmq' ? timers : `${timers}:unused`;
      await reserveAll(redis, keys, goodsId, long, list);
      await reserveAll(redis, keys, goodsId, short, list);
      if (timer === 'rabbitmq-ttl') {
        await redis.del(list);
        const publisher = amqp.createPublisher({ confirm: true, ...originalTopology(timerNames) });
        try {
          for (const o of [...long, ...short]) await sendTimerMessage(publisher, timerNames, { orderId: o.orderId, goodsId }, o.due - Date.now());
        } finally {
          await publisher.close();
        }
      }
      // wait for the short ones only (the long one closes at its own deadline)
      const k = keys.forGoods(goodsId);
      const waitUntil = Date.now() + options.holLongMs + 30_000;
      while ((await redis.zcard(k.held)) > (timer === 'bullmq' ? 1 : 0) && Date.now() < waitUntil) await new Promise((r) => setTimeout(r, 20));
      const closed = (await readClosed(redis, keys, goodsId, short)).filter((c) => c.status === 'CLOSED');
      if (closed.length !== short.length) throw new Error(`${label}: only ${closed.length} of ${short.length} short orders closed`);
      if (timer === 'bullmq') await queues.removeCloseJob(long[0]!.orderId);
      const figures = { timer, processes: 1, rate: 0, ...lateness(closed) };
      say(`${label}: lateness of the ${short.length} short orders: p50 ${figures.p50} ms, p99 ${figures.p99} ms, max ${figures.max} ms`);
      return figures;
    };

    /** Ready = each process's order-timeout Worker is connected (BullMQ names its blocking connection). */
    const waitForWorkers = async (count: number, procs: Child[]) => {
      const deadline = Date.now() + 60_000;
      while ((await closeQueue.getWorkersCount()) < count) {
        for (const p of procs) if (await Promise.race([p.exited.then(() => true), Promise.resolve(false)])) throw new Error(`${p.name} exited; see ${p.logFile}`);
        if (Date.now() > deadline) throw new Error(`worker processes did not connect within 60 s; see ${logDir}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };

    const drains: DrainFigures[] = [];
    const steady: LatenessFigures[] = [];
    const hol: LatenessFigures[] = [];

    const startWorkers = async (count: number, label: string) => {
      const procs = Array.from({ length: count }, (_, i) => start(`worker-${label}-${count}p-${i + 1}`, 'src/workers/main.ts'));
      await waitForWorkers(count, procs);
      return procs;
    };
    const startOriginal = async (label: string, mode: OriginalMode = 'per-message') => {
      const consumer = start(`original-consumer-${label}-${mode}`, 'bench/timeouts/original-consumer.ts', { BENCH_ORIGINAL_PERSIST: mode }, true);
      await consumer.waitForMessage('ready');
      return consumer;
    };

    // the drains back to back, so ours and the original's see the same machine
    if (options.sections.has('drain')) {
      for (const count of options.workers) {
        const procs = await startWorkers(count, 'drain');
        drains.push(await drain('bullmq', procs));
        for (const p of procs) await stopChild(p);
      }
    }
    if (options.sections.has('original')) {
      for (const mode of options.originals) {
        const consumer = await startOriginal('drain', mode);
        drains.push(await drain('rabbitmq-ttl', [consumer], mode));
        await stopChild(consumer);
      }
    }
    if (options.sections.has('lateness') || options.sections.has('hol')) {
      for (const [i, count] of options.workers.entries()) {
        const withHol = options.sections.has('hol') && i === 0;
        if (!options.sections.has('lateness') && !withHol) continue;
        const procs = await startWorkers(count, 'late');
        if (options.sections.has('lateness')) for (const rate of options.rates) steady.push(await steadyLateness(procs, rate));
        if (withHol) hol.push(await headOfLine('bullmq'));
        for (const p of procs) await stopChild(p);
      }
    }
    if (options.sections.has('hol')) {
      const consumer = await startOriginal('hol');
      hol.push(await headOfLine('rabbitmq-ttl'));
      await stopChild(consumer);
    }
    await stopChild(sandbox);

    say(`load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    const masters = onCluster ? masterDelta(mastersAtStart, await readMasters(redis), peakKeys) : [];
    report(drains, steady, hol, config.workerConcurrency, masters);
    const redisSetup = onCluster ? { redis: 'cluster', masters: masters.length, queueShards: config.queueShards } : { redis: 'single' };
    if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, `${JSON.stringify({ machine, options: { ...options, sections: [...options.sections], ...redisSetup }, drains, steady, hol, masters }, null, 2)}\n`);
  } finally {
    await cleanUp();
  }
}

function report(drains: DrainFigures[], steady: LatenessFigures[], hol: LatenessFigures[], concurrency: number, masters: MasterFigures[]): void {
  const table = (header: string[], rows: string[][]) => {
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
    console.log(line(header));
    for (const row of rows) console.log(line(row));
  };
  if (drains.length) {
    console.log(`\n(a)/(b) drain: orders due at the same instant T0, closed through the whole path (WORKER_CONCURRENCY ${concurrency})`);
    table(
      ['timer', 'procs', 'orders', 'closes/s', 'drain ms', 'first ms', 'steady/s', 'wait p50', 'wait p99', 'CPU s (timer procs | sandbox | redis | mariadb | rabbitmq)'],
      drains.map((d) => {
        const procCpu = Object.entries(d.cpuSeconds).filter(([k]) => k.startsWith('worker') || k.startsWith('original')).map(([, v]) => v.toFixed(1)).join('+');
        const c = d.cpuSeconds;
        return [d.persist ? `${d.timer} (${d.persist})` : d.timer, String(d.processes), String(d.n), String(d.closesPerSec), String(d.drainMs), String(d.firstCloseMs), String(d.steadyClosesPerSec), String(d.latenessP50), String(d.latenessP99), `${procCpu} | ${c.sandbox ?? '?'} | ${c.redis ?? '?'} | ${c.mariadb ?? '?'} | ${c.rabbitmq ?? '?'}`];
      }),
    );
    const originals = drains.filter((d) => d.timer === 'rabbitmq-ttl');
    for (const d of drains.filter((x) => x.timer === 'bullmq')) {
      if (d.setupOverrunMs > 0) console.log(`note: bullmq ${d.processes}p set-up ended ${d.setupOverrunMs} ms after T0`);
      for (const original of originals) {
        const ratio = d.closesPerSec / original.closesPerSec;
        // the target is against the original design as it was (per-message persistence); the
        // outbox variant is the stricter comparison of the timers alone, printed beside it
        const verdict = d.processes >= 2 && original.persist === 'per-message' ? ` (target ≥ ${TARGET_ORIGINAL_RATIO}: ${ratio >= TARGET_ORIGINAL_RATIO ? 'met' : 'NOT met'})` : '';
        console.log(`ratio bullmq ${d.processes}p / original (${original.persist}): ${ratio.toFixed(2)}${verdict}`);
      }
    }
  }
  if (steady.length) {
    console.log(`\n(c) lateness (closedAt − deadline) of orders falling due at a steady rate`);
    table(
      ['procs', 'rate/s', 'orders', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'target p99'],
      steady.map((s) => [String(s.processes), String(s.rate), String(s.n), String(s.p50), String(s.p95), String(s.p99), String(s.max), `≤ ${targetP99At(s.rate)} ms: ${s.p99 <= targetP99At(s.rate) ? 'met' : 'NOT met'}`]),
    );
  }
  if (hol.length) {
    console.log(`\n(d) head-of-line: ${options.holShort} orders with a ${options.holShortMs} ms window created right after one with ${options.holLongMs} ms`);
    table(
      ['timer', 'short orders', 'min ms', 'p50 ms', 'p99 ms', 'max ms'],
      hol.map((h) => [h.timer, String(h.n), String(h.min), String(h.p50), String(h.p99), String(h.max)]),
    );
  }
  if (masters.length) {
    const total = (f: (m: MasterFigures) => number) => masters.reduce((sum, m) => sum + f(m), 0);
    const share = (n: number, all: number) => `${n} (${all ? Math.round((100 * n) / all) : 0} %)`;
    console.log(`\nper master over the run (keys: at the fullest moment, all timers set before a drain's T0)`);
    table(
      ['master', 'keys', 'commands', 'Lua calls', 'CPU s'],
      masters.map((m) => [m.node, share(m.keys, total((x) => x.keys)), share(m.commands, total((x) => x.commands)), share(m.scripts, total((x) => x.scripts)), m.cpuSeconds.toFixed(1)]),
    );
  }
}

async function waitForHttp(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await request(url);
      await res.body.dump();
      if (res.statusCode === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}


await main();
