/**
 * `npm run bench:payments` — payment events per second end to end (design §4.3–§4.5):
 * signed WeChat notification POSTed to the notify endpoint → RabbitMQ (publisher confirm) →
 * the worker's bridge → BullMQ job → PAID in Redis and MySQL (order row, payment event, stock
 * decrement in one transaction), timeout job removed.
 *
 * 1. A scratch MariaDB database (migrated), its own KEY_PREFIX / QUEUE_PREFIX and AMQP names on
 *    the machine's RabbitMQ; ORDER_TIMEOUT_MS of 30 min, so no close runs during the measure.
 * 2. Child processes started from this file: the API (`src/api/app.ts`, listening on loopback)
 *    and BENCH_WORKERS workers (BullMQ workers + AMQP bridge, as `src/workers/main.ts` runs them).
 * 3. Set-up, not measured: BENCH_GOODS goods and BENCH_WARMUP + BENCH_ORDERS unpaid orders
 *    through the domain (the grab Lua script, timeout jobs included), one signed notification
 *    (MD5, the merchant key) per order, as WeChat would send it; then the BENCH_WARMUP orders are
 *    paid through the whole path and waited for.
 * 4. Measured: every notification POSTed with at most BENCH_CONCURRENCY in flight (requests
 *    encoded beforehand, one per keep-alive loopback connection at a time: bench/lib/raw-http.ts,
 *    or undici with BENCH_CLIENT=undici), as fast as they are answered (closed loop), or at BENCH_RATE per
 *    second (open loop: latency below saturation), until every order is PAID in MySQL.
 *    Notify→MySQL latency of an order is from the moment its POST was sent to its row's
 *    `updated_at` (stamped by the worker inside the transaction that marks it paid; same clock).
 * 5. Checks the result (all PAID, one payment event each, stock decremented exactly N), prints
 *    the figures (with the CPU each process and each of the machine's servers — Redis by INFO,
 *    RabbitMQ and MariaDB from /proc when they run here — spent per event, and what that cost
 *    allows on this many cores), stops the children, deletes its Redis keys, AMQP queues/exchange and database.
 *
 * Environment: BENCH_ORDERS (5000), BENCH_WARMUP (200), BENCH_CONCURRENCY (64), BENCH_RATE
 * (unset: closed loop), BENCH_GOODS (1: one flash-sale goods, every payment decrements the same
 * row), BENCH_WORKERS (1 worker process), BENCH_WORKER_CONCURRENCY (50: WORKER_CONCURRENCY;
 * payment jobs follow PAYMENT_WORKER_CONCURRENCY, 200 unless set), BENCH_TIMEOUT_S (600),
 * BENCH_CLIENT (raw | undici), BENCH_JSON=<file> (the figures as JSON), BENCH_SERIES=<file> (send time and latency per order),
 * BENCH_PROFILE_DIR=<dir> (a CPU profile per child), REDIS_URL, AMQP_URL, TEST_DATABASE_URL.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Pool } from 'undici';
import { RawHttpPool, encodePost } from './lib/raw-http.js';
import { buildApp } from '../src/api/app.js';
import { type RawEnv, loadConfig } from '../src/config/env.js';
import { createGoods } from '../src/domain/goods/goods-service.js';
import { createOrderIdGenerator } from '../src/domain/orders/order-id.js';
import { reserveOrder } from '../src/domain/orders/reserve.js';
import { type Infra, createInfra, waitForRedis } from '../src/infra/context.js';
import { migrate } from '../src/infra/db/migrate.js';
import { parseDatabaseUrl, quoteIdentifier, withDatabase } from '../src/infra/db/connection-url.js';
import { nonceStr, signFields } from '../src/infra/wechat/sign.js';
import { toBeijingTime } from '../src/infra/wechat/time.js';
import { buildXml } from '../src/infra/wechat/xml.js';
import { startPaymentBridge } from '../src/workers/payment-bridge.js';
import { startWorkers } from '../src/workers/runtime.js';
import { SERVER_NODE_FLAGS } from '../src/infra/node-flags.js';
import { intEnv, freePort } from './lib/common.js';
import { serverCpuSeconds } from './lib/machine.js';
import { isolatedNames } from '../test/helpers/app.js';

type ToParent = { type: 'ready' } | { type: 'cpu'; cpuMs: number } | { type: 'stopped' };
type ToChild = { type: 'stop' } | { type: 'cpu' };


const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return Math.round((user + system) / 1000);
};

// ───────────────────────────── child processes ─────────────────────────────

async function runChild(role: 'api' | 'worker'): Promise<void> {
  const config = loadConfig(process.env);
  const logger = pino({ name: `bench-${role}`, level: config.logLevel });
  const infra = createInfra(config, logger, role);
  await waitForRedis(infra.core.redis, config.redisUrl);
  let stop: () => Promise<void>;
  if (role === 'api') {
    const app = await buildApp({ infra });
    await app.listen({ host: '127.0.0.1', port: config.port });
    stop = async () => {
      await app.close();
      await infra.close();
    };
  } else {
    const runtime = await startWorkers(infra, { sweeper: false });
    const bridge = startPaymentBridge(infra);
    stop = async () => {
      await bridge.close();
      await runtime.close();
      await infra.close();
    };
  }
  const send = (message: ToParent) => process.send?.(message);
  process.on('message', (message: ToChild) => {
    if (message.type === 'cpu') {
      send({ type: 'cpu', cpuMs: cpuMs() });
      return;
    }
    void stop()
      .catch((err: Error) => logger.error({ err: err.message }, 'stop failed'))
      .finally(() => {
        send({ type: 'stopped' });
        process.exit(0);
      });
  });
  // the orchestrator died: do not linger
  process.on('disconnect', () => process.exit(1));
  send({ type: 'ready' });
}

// ───────────────────────────── orchestrator ─────────────────────────────

interface Child {
  role: string;
  process: ChildProcess;
  /** CPU ms (user + system) the child has used so far */
  cpuMs(): Promise<number>;
  stop(): Promise<void>;
}

function waitMessage<T extends ToParent['type']>(child: ChildProcess, type: T, timeoutMs: number): Promise<Extract<ToParent, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`child did not send '${type}' within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (message: ToParent) => {
      if (message.type === type) finish(undefined, message as Extract<ToParent, { type: T }>);
    };
    const onExit = (code: number | null) => finish(new Error(`child exited (code ${code}) before '${type}'`));
    function finish(err?: Error, message?: Extract<ToParent, { type: T }>) {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(message as Extract<ToParent, { type: T }>);
    }
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

async function startChild(role: 'api' | 'worker', env: RawEnv): Promise<Child> {
  const child = fork(fileURLToPath(import.meta.url), [], {
    env: { ...process.env, ...env, PAYMENTS_BENCH_ROLE: role },
    // BENCH_PROFILE_DIR: a V8 CPU profile of each child, written when it exits
    // the flags a deployed API or worker runs with (src/infra/node-flags.ts)
    execArgv: [...process.execArgv, ...SERVER_NODE_FLAGS, ...(process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    await waitMessage(child, 'ready', 60_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    role,
    process: child,
    async cpuMs() {
      const answer = waitMessage(child, 'cpu', 10_000);
      child.send({ type: 'cpu' } satisfies ToChild);
      return (await answer).cpuMs;
    },
    async stop() {
      if (child.exitCode !== null) return;
      const stopped = waitMessage(child, 'stopped', 20_000);
      child.send({ type: 'stop' } satisfies ToChild);
      await stopped.catch(() => child.kill('SIGKILL'));
    },
  };
}


function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  const { createConnection } = await import('mariadb');
  const server = parseDatabaseUrl(serverUrl);
  const conn = await createConnection({ host: server.host, port: server.port, user: server.user, password: server.password });
  try {
    await conn.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)}`);
  } finally {
    await conn.end();
  }
}

async function cleanup(infra: Infra): Promise<void> {
  const { redis } = infra.core;
  for (const pattern of [`${infra.config.keyPrefix}:*`, `${infra.config.queuePrefix}:*`]) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 2000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  }
  const names = infra.config.amqp;
  const ch = await infra.amqp.acquire();
  try {
    await ch.queueDelete({ queue: names.queue });
    await ch.queueDelete({ queue: names.deadLetterQueue });
    await ch.exchangeDelete({ exchange: names.exchange });
  } finally {
    await ch.close();
  }
}

async function main(): Promise<void> {
  const orders = intEnv('BENCH_ORDERS', 5_000);
  const concurrency = intEnv('BENCH_CONCURRENCY', 64);
  const goodsCount = intEnv('BENCH_GOODS', 1);
  const workerConcurrency = intEnv('BENCH_WORKER_CONCURRENCY', 50);
  const workers = intEnv('BENCH_WORKERS', 1);
  const timeoutMs = intEnv('BENCH_TIMEOUT_S', 600) * 1000;
  // 0: closed loop (as fast as the pipeline takes them); n: open loop, n notifications per second
  const rate = process.env.BENCH_RATE ? intEnv('BENCH_RATE', 1) : 0;
  // paid first, not measured: connections, channels, JIT and the queues' scripts warm up
  const warmup = process.env.BENCH_WARMUP === '0' ? 0 : intEnv('BENCH_WARMUP', 200);
  const serverUrl = process.env.TEST_DATABASE_URL ?? 'mysql://root@127.0.0.1:3306';

  const id = randomBytes(4).toString('hex');
  const dbName = `seckill_bench_${id}`;
  const port = await freePort();
  const env: RawEnv = {
    DATABASE_URL: withDatabase(serverUrl, dbName),
    ...isolatedNames('bench', 'bench', id),
    PORT: String(port),
    ORDER_TIMEOUT_MS: '1800000',
    // no WeChat call is on the payment path; nothing listens here
    WECHAT_PAY_BASE_URL: 'http://127.0.0.1:9',
    WECHAT_NOTIFY_URL: `http://127.0.0.1:${port}/pay/wechat/notify`,
    WORKER_CONCURRENCY: String(workerConcurrency),
    ...(process.env.PAYMENT_WORKER_CONCURRENCY ? { PAYMENT_WORKER_CONCURRENCY: process.env.PAYMENT_WORKER_CONCURRENCY } : {}),
    SWEEPER_INTERVAL_MS: '3600000',
    JWT_SECRET: 'bench-secret-bench-secret-bench',
    ADMIN_USER: 'bench',
    ADMIN_PASSWORD: 'bench',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
    ...(process.env.AMQP_URL ? { AMQP_URL: process.env.AMQP_URL } : {}),
  };
  const config = loadConfig(env);
  const log = (line: string) => process.stderr.write(`${line}\n`);

  await migrate({ databaseUrl: config.databaseUrl });
  const infra = createInfra(config, pino({ level: 'silent' }), 'api');
  const children: Child[] = [];
  const overall = setTimeout(() => {
    log(`bench:payments: no result within BENCH_TIMEOUT_S; giving up`);
    for (const c of children) c.process.kill('SIGKILL');
    process.exit(2);
  }, timeoutMs + 120_000);
  overall.unref();

  try {
    await waitForRedis(infra.core.redis, config.redisUrl);
    const deps = infra.core;
    children.push(await startChild('api', env));
    for (let w = 0; w < workers; w += 1) children.push(await startChild('worker', env));
    const workerCpuMs = async () => (await Promise.all(children.slice(1).map((c) => c.cpuMs()))).reduce((a, b) => a + b, 0);

    // ── set-up (not measured)
    const total = orders + warmup;
    log(`set-up: ${goodsCount} goods, ${total} unpaid orders (${warmup} for warm-up)…`);
    const goods: { id: string }[] = [];
    for (let g = 0; g < goodsCount; g += 1) {
      goods.push(
        await createGoods(deps, {
          title: `bench ${g}`,
          price: 990,
          stockCount: Math.ceil(total / goodsCount),
          startTime: new Date(Date.now() - 60_000),
          endTime: new Date(Date.now() + 3_600_000),
        }),
      );
    }
    const ids = await createOrderIdGenerator(deps.redis, deps.keys.nodeSequence);
    const placed: { orderId: string; money: number; goodsId: string }[] = [];
    for (let i = 0; i < total; i += 200) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(200, total - i) }, (_, j) => {
          const n = i + j;
          return reserveOrder(deps, ids, `bench-buyer-${n}`, goods[n % goodsCount]?.id ?? '');
        }),
      );
      placed.push(...batch.map((o) => ({ orderId: o.orderId, money: o.money, goodsId: o.goodsId })));
    }
    const { appId, mchId, apiKey } = config.wechat;
    const bodies = placed.map((order, n) => {
      const fee = String(order.money);
      const fields: Record<string, string> = {
        appid: appId,
        bank_type: 'CFT',
        cash_fee: fee,
        fee_type: 'CNY',
        is_subscribe: 'N',
        mch_id: mchId,
        nonce_str: nonceStr(),
        openid: `obench${String(n).padStart(22, '0')}`,
        out_trade_no: order.orderId,
        result_code: 'SUCCESS',
        return_code: 'SUCCESS',
        time_end: toBeijingTime(new Date()),
        total_fee: fee,
        trade_type: 'NATIVE',
        transaction_id: `4200000${id.replace(/[a-f]/g, '7')}${String(n).padStart(13, '0')}`.slice(0, 28),
      };
      fields.sign = signFields(fields, apiKey, config.wechat.signType);
      return buildXml(fields);
    });
    const goodsIds = goods.map((g) => BigInt(g.id));
    // BENCH_CLIENT=undici: the general-purpose client the figures before 2026-12-02 evening used
    const client = process.env.BENCH_CLIENT ?? 'raw';
    if (client !== 'raw' && client !== 'undici') throw new Error(`BENCH_CLIENT must be raw or undici, not ${client}`);
    const pool = client === 'raw' ? new RawHttpPool(port, concurrency) : new Pool(`http://127.0.0.1:${port}`, { connections: concurrency, pipelining: 1 });
    /** notification `n` POSTed: its status and reply body */
    let notify: (n: number) => Promise<{ status: number; body: string }>;
    if (pool instanceof RawHttpPool) {
      const encoded = bodies.map((body) => encodePost(`127.0.0.1:${port}`, '/pay/wechat/notify', 'text/xml', body));
      notify = (n) => pool.request(encoded[n]!);
    } else {
      notify = async (n) => {
        const res = await pool.request({ method: 'POST', path: '/pay/wechat/notify', headers: { 'content-type': 'text/xml' }, body: bodies[n] });
        return { status: res.statusCode, body: await res.body.text() };
      };
    }
    const sentAt = new Map<string, number>();
    const replyMs: number[] = [];
    let failures = 0;

    /** POST notifications [from, to) with `concurrency` in flight, paced at `perSecond` (0: unpaced). */
    const post = async (from: number, to: number, perSecond: number): Promise<number> => {
      let next = from;
      const t0 = Date.now();
      const sender = async () => {
        for (;;) {
          const n = next;
          next += 1;
          if (n >= to) return;
          if (perSecond > 0) await new Promise((resolve) => setTimeout(resolve, Math.max(0, t0 + ((n - from) * 1000) / perSecond - Date.now())));
          const orderId = placed[n]?.orderId ?? '';
          const sent = Date.now();
          sentAt.set(orderId, sent);
          const res = await notify(n);
          if (n >= warmup) replyMs.push(Date.now() - sent);
          if (res.status !== 200 || !res.body.includes('SUCCESS')) failures += 1;
        }
      };
      await Promise.all(Array.from({ length: concurrency }, sender));
      return t0;
    };
    /** units of the bench's goods taken off MySQL's stock: the persister's decrements so far */
    const stockInMysql = async () =>
      (await deps.prisma.seckillGoods.aggregate({ where: { id: { in: goodsIds } }, _sum: { stockCount: true } }))._sum.stockCount ?? 0;
    // Polls the goods rows (each batch the persister commits decrements stock_count by the
    // orders it newly marked PAID), not a count over thousands of order ids: that query, every
    // 100 ms, cost the load generator and MariaDB CPU that the pipeline under test then lacked.
    // The figures come from the order rows afterwards (updated_at), not from this poll.
    const waitPaid = async (count: number, stockAtStart: number, until: number): Promise<number> => {
      let paid = 0;
      while (paid < count && Date.now() < until) {
        paid = stockAtStart - (await stockInMysql());
        if (paid < count) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return paid;
    };

    if (warmup > 0) {
      log(`warm-up: ${warmup} notifications…`);
      const stockAtStart = await stockInMysql();
      await post(0, warmup, 0);
      const warmed = await waitPaid(warmup, stockAtStart, Date.now() + timeoutMs);
      if (warmed < warmup || failures > 0) throw new Error(`warm-up: ${warmed} of ${warmup} paid, ${failures} notify failures`);
    }
    const stockBefore = await stockInMysql();
    const [apiCpuBefore, workerCpuBefore] = [await children[0]?.cpuMs(), await workerCpuMs()];
    const serversBefore = await serverCpuSeconds(deps.redis);
    const cpuBefore = cpuMs();

    // ── measured
    log(`measuring: ${orders} notifications, ${concurrency} in flight${rate ? `, ${rate}/s` : ''}…`);
    const started = await post(warmup, total, rate);
    const allAcked = Date.now();
    const orderIds = placed.slice(warmup).map((o) => o.orderId);
    const decrementedSoFar = await waitPaid(orders, stockBefore, started + timeoutMs);
    await pool.close();
    const loadCpuMs = cpuMs() - cpuBefore;
    const apiCpu = (await children[0]?.cpuMs()) ?? 0;
    const workerCpu = await workerCpuMs();
    const serversAfter = await serverCpuSeconds(deps.redis);
    /** a server's CPU ms per event over the measured phase (undefined: not on this machine) */
    const serverMs = (name: 'redis' | 'rabbitmq' | 'mariadb') => {
      const [before, after] = [serversBefore[name], serversAfter[name]];
      return before === undefined || after === undefined || !Number.isFinite(after - before) ? undefined : +(((after - before) * 1000) / orders).toFixed(2);
    };
    if (decrementedSoFar < orders) throw new Error(`only ${decrementedSoFar} of ${orders} units off MySQL's stock after ${timeoutMs} ms`);

    // ── figures and checks
    const rows = await deps.prisma.seckillOrder.findMany({ where: { id: { in: orderIds } }, select: { id: true, updatedAt: true } });
    const latencies = rows.map((r) => r.updatedAt.getTime() - (sentAt.get(r.id) ?? Number.NaN)).sort((a, b) => a - b);
    const lastPaid = Math.max(...rows.map((r) => r.updatedAt.getTime()));
    const elapsedMs = lastPaid - started;
    const events = await deps.prisma.paymentEvent.count({ where: { orderId: { in: orderIds } } });
    const paid = await deps.prisma.seckillOrder.count({ where: { id: { in: orderIds }, status: 'PAID' } });
    const decremented = stockBefore - (await stockInMysql());
    const timers = await deps.queues.byName['order-timeout'].getJobCounts('delayed', 'waiting', 'active');
    const timersLeft = Object.values(timers).reduce((a, b) => a + b, 0);
    replyMs.sort((a, b) => a - b);

    for (const child of children.splice(0)) await child.stop();

    const figures = {
      orders,
      warmup,
      concurrency,
      goods: goodsCount,
      workers,
      workerConcurrency,
      paymentWorkerConcurrency: config.paymentWorkerConcurrency,
      rate: rate || 'closed loop',
      eventsPerSecond: Math.round((orders / elapsedMs) * 1000),
      elapsedMs,
      notifyAckedPerSecond: Math.round((orders / (allAcked - started)) * 1000),
      notifyReplyMs: { p50: percentile(replyMs, 50), p99: percentile(replyMs, 99), max: replyMs.at(-1) },
      notifyToMysqlMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) },
      notifyFailures: failures,
      checks: { paid, paymentEvents: events, stockDecremented: decremented, timeoutJobsLeft: timersLeft },
      cpuMsPerEvent: {
        api: +((apiCpu - (apiCpuBefore ?? 0)) / orders).toFixed(2),
        worker: +((workerCpu - workerCpuBefore) / orders).toFixed(2),
        loadGenerator: +(loadCpuMs / orders).toFixed(2),
        // the machine's servers over the same phase (shared: anything else they served counts too)
        redis: serverMs('redis'),
        rabbitmq: serverMs('rabbitmq'),
        mariadb: serverMs('mariadb'),
      },
      machine: {
        cpus: os.availableParallelism(),
        cpuModel: os.cpus()[0]?.model ?? 'unknown',
        memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
        node: process.version,
        redis: /redis_version:(\S+)/.exec(await deps.redis.info('server'))?.[1] ?? 'unknown',
        mariadb: String((await deps.prisma.$queryRawUnsafe<{ v: string }[]>('SELECT VERSION() AS v'))[0]?.v ?? 'unknown'),
      },
    };
    const perEvent = figures.cpuMsPerEvent;
    const machineMs = [perEvent.api, perEvent.worker, perEvent.loadGenerator, perEvent.redis, perEvent.rabbitmq, perEvent.mariadb].reduce<number>((a, b) => a + (b ?? 0), 0);
    const servers = (['redis', 'rabbitmq', 'mariadb'] as const).filter((n) => perEvent[n] !== undefined).map((n) => `${n} ${perEvent[n]}`);
    const ok = failures === 0 && paid === orders && events === orders && decremented === orders && timersLeft === 0;
    process.stdout.write(
      [
        `payments end to end (notify → RabbitMQ → bridge → BullMQ → PAID in MySQL)`,
        `  orders ${orders}, goods ${goodsCount}, notify concurrency ${concurrency}${rate ? `, offered ${rate}/s` : ' (closed loop)'}, ${workers} worker process${workers > 1 ? 'es' : ''}, ${config.paymentWorkerConcurrency} payment jobs in flight in each, client ${client}`,
        `  events/s            ${figures.eventsPerSecond}  (${orders} in ${elapsedMs} ms, first POST to last PAID row)`,
        `  notify acked/s      ${figures.notifyAckedPerSecond}  (reply p50 ${figures.notifyReplyMs.p50} ms, p99 ${figures.notifyReplyMs.p99} ms)`,
        `  notify → MySQL      p50 ${figures.notifyToMysqlMs.p50} ms, p99 ${figures.notifyToMysqlMs.p99} ms, max ${figures.notifyToMysqlMs.max} ms`,
        `  CPU ms per event    api ${perEvent.api}, worker${workers > 1 ? 's' : ''} ${perEvent.worker}, load generator ${perEvent.loadGenerator}${servers.length ? `; ${servers.join(', ')}` : ''}`,
        `  whole machine       ${machineMs.toFixed(2)} ms of CPU per event: at most ≈ ${Math.round((os.availableParallelism() * 1000) / machineMs)} events/s on ${os.availableParallelism()} cores at this cost`,
        `  checks              ${paid} PAID, ${events} payment events, stock −${decremented}, ${timersLeft} timeout jobs left, ${failures} notify failures: ${ok ? 'OK' : 'MISMATCH'}`,
        `  machine             ${figures.machine.cpus} CPUs (${figures.machine.cpuModel}), ${figures.machine.memoryGiB} GiB, node ${figures.machine.node}, redis ${figures.machine.redis}, mariadb ${figures.machine.mariadb}`,
        '',
      ].join('\n'),
    );
    if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, `${JSON.stringify(figures, null, 2)}\n`);
    if (process.env.BENCH_SERIES) {
      // one line per order: ms since the first POST when sent, notify → MySQL ms (to see stalls)
      const series = rows.map((r) => [(sentAt.get(r.id) ?? 0) - started, r.updatedAt.getTime() - (sentAt.get(r.id) ?? 0)] as const).sort((a, b) => a[0] - b[0]);
      writeFileSync(process.env.BENCH_SERIES, series.map(([at, ms]) => `${at}\t${ms}`).join('\n') + '\n');
    }
    if (!ok) process.exitCode = 1;
  } finally {
    for (const child of children) await child.stop();
    await cleanup(infra).catch((err: Error) => log(`cleanup: ${err.message}`));
    await infra.close();
    await dropDatabase(serverUrl, dbName).catch((err: Error) => log(`drop database: ${err.message}`));
    clearTimeout(overall);
  }
}

const role = process.env.PAYMENTS_BENCH_ROLE;
if (role === 'api' || role === 'worker') await runChild(role);
else await main();
