/**
 * `npm run bench:grab` — throughput and latency of POST /seckill/orders (design §4.1).
 *
 * 1. A scratch MariaDB database (test/helpers/db.ts), its own KEY_PREFIX / QUEUE_PREFIX.
 * 2. Goods with huge stock, created through the domain (MySQL row + Redis load), and many
 *    pre-signed buyer JWTs; every request is a distinct (buyer, goods) pair (bench/lib/load.ts).
 * 3. Target "full": the real API (bench/lib/full-api.ts) in a child process on loopback.
 *    Target "baseline": a bare Fastify route that only runs the reserveOrder Lua script
 *    (bench/lib/baseline-api.ts), same Redis, same key layout.
 *    Each gets a warm-up, then the measured autocannon run from this process.
 *    Target "hello": a hello-world route answering the real API's 409 SOLD_OUT body (bench/lib/
 *    hello-api.ts), the ceiling for the sold-out crowd (BENCH_STOCK=1 BENCH_TARGETS=full,hello).
 * 4. Prints req/s, p50, p99 and the ratios full/baseline (target ≥ 0.85) and full/hello (≥ 0.9),
 *    then deletes its
 *    Redis keys and drops the database.
 *
 * Environment: BENCH_DURATION_S (10), BENCH_WARMUP_S (3), BENCH_CONNECTIONS (100),
 * BENCH_BUYERS (20000), BENCH_GOODS (20 per target and round), BENCH_TARGETS ("full,baseline"),
 * BENCH_ROUNDS (1; with more, the order alternates and medians are reported),
 * BENCH_STOCK (units per goods, 10000000; 1 measures the sold-out crowd: nearly every grab 409),
 * BENCH_PROFILE=1 (a CPU profile of each measured run, summarised, files in BENCH_PROFILE_DIR),
 * BENCH_REDIS=private (a redis-server of its own on loopback instead of REDIS_URL's),
 * BENCH_LOG_LEVEL (silent: the API's LOG_LEVEL; `info` measures what production logs),
 * BENCH_JSON=<file> (write the figures as JSON), BENCH_ABLATE (see bench/lib/full-api.ts),
 * REDIS_URL, TEST_DATABASE_URL.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSigner } from 'fast-jwt';
import { pino } from 'pino';
import { loadConfig } from '../src/config/env.js';
import { createGoods } from '../src/domain/goods/goods-service.js';
import { waitForRedis } from '../src/infra/context.js';
import { closeRedis, createRedis } from '../src/infra/redis/client.js';
import { keySpace } from '../src/infra/redis/keys.js';
import { type TestDatabase, createTestDatabase } from '../test/helpers/db.js';
import { PrivateRedis } from '../test/helpers/redis-server.js';
import { startTarget } from './lib/children.js';
import { type LoadFigures, runGrabLoad } from './lib/load.js';
import { describeMachine, redisCpuSeconds } from './lib/machine.js';
import { type Profile, summarise } from './lib/profile-summary.js';
import { intEnv, deleteKeys } from './lib/common.js';
import { isolatedNames } from '../test/helpers/app.js';

/** full/<target> req/s targets: the bare route with the same Lua, and (sold-out crowd) hello world */
const RATIO_TARGETS: Record<string, number> = { baseline: 0.85, hello: 0.9 };


const options = {
  durationS: intEnv('BENCH_DURATION_S', 10),
  warmupS: Number(process.env.BENCH_WARMUP_S ?? 3),
  connections: intEnv('BENCH_CONNECTIONS', 100),
  buyers: intEnv('BENCH_BUYERS', 20_000),
  goodsPerTarget: intEnv('BENCH_GOODS', 20),
  targets: (process.env.BENCH_TARGETS ?? 'full,baseline').split(',').map((s) => s.trim()).filter(Boolean),
  rounds: intEnv('BENCH_ROUNDS', 1),
  /** units per goods: the default never runs out; 1 measures the sold-out crowd (nearly all 409) */
  stock: intEnv('BENCH_STOCK', 10_000_000),
  profile: process.env.BENCH_PROFILE === '1',
  /** 'private': a redis-server of our own on a free loopback port, so other clients of the
   *  machine's Redis (test runs) neither slow our commands nor count in Redis CPU per request */
  redis: process.env.BENCH_REDIS === 'private' ? 'private' : 'shared',
};
for (const name of options.targets) {
  if (name !== 'full' && name !== 'baseline' && name !== 'hello') throw new Error(`BENCH_TARGETS: unknown target ${name} (full, baseline, hello)`);
}

const id = randomBytes(4).toString('hex');
const silent = pino({ level: 'silent' });
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

interface TargetFigures extends LoadFigures {
  target: string;
  /** 1-based round of this run; 0 for a median over rounds */
  round: number;
  /** CPU ms of the server process per request, measured run only */
  serverCpuMsPerReq: number;
  /** CPU ms of redis-server per request, measured run only (other clients of a shared Redis count too) */
  redisCpuMsPerReq: number;
  /** CPU ms of the load generator (this process) per request, measured run only */
  loadCpuMsPerReq: number;
  /** units taken from stock during warm-up + run (compare with 201s) */
  unitsReserved: number;
  created: number;
  warmupCreated: number;
}


const fmt = (n: number, digits = 1) => n.toFixed(digits);

async function main(): Promise<void> {
  const privateRedis = options.redis === 'private' ? await PrivateRedis.start() : undefined;
  const db: TestDatabase = await createTestDatabase().catch(async (err: unknown) => {
    await privateRedis?.destroy();
    throw err;
  });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...(privateRedis ? { REDIS_URL: privateRedis.url } : {}),
    DATABASE_URL: db.url,
    ...isolatedNames('bench', 'bench', id),
    JWT_SECRET: randomBytes(24).toString('hex'),
    ADMIN_USER: 'bench',
    ADMIN_PASSWORD: randomBytes(12).toString('hex'),
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'silent',
    HOST: '127.0.0.1',
  };
  const config = loadConfig(env);
  const redis = createRedis(config.redisUrl, 'worker', silent, 'bench-orchestrator');
  const keys = keySpace(config.keyPrefix);
  let cleaned = false;
  const cleanUp = async () => {
    if (cleaned) return;
    cleaned = true;
    const deleted = await deleteKeys(redis, [`${config.keyPrefix}:*`, `${config.queuePrefix}:*`]).catch(() => -1);
    await closeRedis(redis);
    await privateRedis?.destroy();
    await db.drop().catch(() => undefined);
    process.stderr.write(`cleaned up: ${deleted} Redis keys, database ${db.name}\n`);
  };
  process.once('SIGINT', () => void cleanUp().finally(() => process.exit(130)));

  try {
    await waitForRedis(redis, config.redisUrl);
    const machine = await describeMachine(redis);
    const profileDir = options.profile ? (process.env.BENCH_PROFILE_DIR ?? mkdtempSync(join(tmpdir(), 'bench-grab-prof-'))) : undefined;
    if (profileDir) mkdirSync(profileDir, { recursive: true });
    if (privateRedis) process.stderr.write(`private redis-server on ${privateRedis.url}\n`);
    process.stderr.write(`machine: ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.memoryGiB} GiB, node ${machine.node}, redis ${machine.redis}\n`);
    process.stderr.write(`options: ${JSON.stringify(options)}\n`);

    // Buyer tokens exactly as @fastify/jwt signs them (HS256, iat).
    const sign = createSigner({ key: config.jwtSecret, algorithm: 'HS256' });
    const authorizations = Array.from({ length: options.buyers }, (_, i) => `Bearer ${sign({ sub: `bench-buyer-${i}` })}`);

    const deps = { prisma: db.prisma, redis, keys, logger: silent };
    const newGoodsSet = async (label: string) => {
      const ids: string[] = [];
      for (let i = 0; i < options.goodsPerTarget; i += 1) {
        const goods = await createGoods(deps, {
          title: `bench ${label} ${i}`,
          price: 9_900,
          stockCount: options.stock,
          startTime: new Date(Date.now() - 3_600_000),
          endTime: new Date(Date.now() + 24 * 3_600_000),
        });
        ids.push(goods.id);
      }
      return ids;
    };

    const runs: TargetFigures[] = [];
    for (let round = 0; round < options.rounds; round += 1) {
      // alternate the order (A B, B A, …) so a drift in the machine's load hits both alike
      const order = round % 2 === 0 ? options.targets : [...options.targets].reverse();
      for (const name of order) {
        const goodsIds = await newGoodsSet(`${name} r${round}`);
        const target = await startTarget(name, here(`./lib/${name}-api.ts`), env);
        try {
          const cursor = { next: 0 };
          const load = { url: target.url, connections: options.connections, authorizations, goodsIds, cursor };
          const warmup = options.warmupS > 0 ? await runGrabLoad({ ...load, durationS: options.warmupS }) : undefined;
          const stopProfile = profileDir ? await target.startProfile() : undefined;
          const [cpu0, redis0, gen0] = [await target.cpuMs(), await redisCpuSeconds(redis), process.cpuUsage()];
          process.stderr.write(`round ${round + 1}/${options.rounds} ${name}: ${options.durationS} s at ${options.connections} connections on ${target.url}\n`);
          const figures = await runGrabLoad({ ...load, durationS: options.durationS });
          const gen = process.cpuUsage(gen0);
          const [cpu1, redis1] = [await target.cpuMs(), await redisCpuSeconds(redis)];
          if (stopProfile && profileDir) {
            const file = join(profileDir, `${name}-r${round + 1}.cpuprofile`);
            await stopProfile(file);
            process.stderr.write(`CPU profile: ${file}\n${summarise(JSON.parse(readFileSync(file, 'utf8')) as Profile, 12)}\n\n`);
          }
          const stocks = await Promise.all(goodsIds.map((g) => redis.get(keys.forGoods(g).stock)));
          const unitsReserved = stocks.reduce((sum, stock) => sum + (options.stock - Number(stock)), 0);
          runs.push({
            target: name,
            round: round + 1,
            ...figures,
            created: figures.status['201'] ?? 0,
            serverCpuMsPerReq: (cpu1 - cpu0) / Math.max(1, figures.requests),
            redisCpuMsPerReq: ((redis1 - redis0) * 1000) / Math.max(1, figures.requests),
            loadCpuMsPerReq: (gen.user + gen.system) / 1000 / Math.max(1, figures.requests),
            unitsReserved,
            warmupCreated: warmup?.status['201'] ?? 0,
          });
        } finally {
          await target.stop();
        }
      }
    }

    // one row per run, then (several rounds) the median of each figure per target
    const median = (values: number[]) => {
      const sorted = [...values].sort((a, b) => a - b);
      const mid = Math.floor(sorted.length / 2);
      return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
    };
    const results = options.targets.map((name): TargetFigures => {
      const mine = runs.filter((r) => r.target === name);
      const m = (pick: (r: TargetFigures) => number) => median(mine.map(pick));
      const status: Record<string, number> = {};
      for (const r of mine) for (const [code, n] of Object.entries(r.status)) status[code] = (status[code] ?? 0) + n;
      return {
        target: name,
        round: 0,
        requests: mine.reduce((sum, r) => sum + r.requests, 0),
        reqPerSec: m((r) => r.reqPerSec),
        p50: m((r) => r.p50),
        p90: m((r) => r.p90),
        p99: m((r) => r.p99),
        max: Math.max(...mine.map((r) => r.max)),
        status,
        errors: mine.reduce((sum, r) => sum + r.errors, 0),
        timeouts: mine.reduce((sum, r) => sum + r.timeouts, 0),
        wrapped: mine.reduce((sum, r) => sum + r.wrapped, 0),
        serverCpuMsPerReq: m((r) => r.serverCpuMsPerReq),
        redisCpuMsPerReq: m((r) => r.redisCpuMsPerReq),
        loadCpuMsPerReq: m((r) => r.loadCpuMsPerReq),
        unitsReserved: mine.reduce((sum, r) => sum + r.unitsReserved, 0),
        created: mine.reduce((sum, r) => sum + r.created, 0),
        warmupCreated: mine.reduce((sum, r) => sum + r.warmupCreated, 0),
      };
    });

    const loadAverage = loadavg().map((v) => v.toFixed(2)).join(' ');
    console.log(`\nmachine: ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.memoryGiB} GiB, ${machine.os}, node ${machine.node}, redis ${machine.redis}; load average at the end: ${loadAverage}`);
    const ablated = process.env.BENCH_ABLATE ? ` (ABLATED: ${process.env.BENCH_ABLATE}; for profiling only)` : '';
    if (ablated) console.log(`\nfull API${ablated}`);
    const header = ['target', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'requests', '201', 'other', 'errors', 'CPU ms/req: api', 'redis', 'autocannon'];
    const shown = options.rounds > 1 ? [...runs, ...results] : results;
    const rows = shown.map((r) => [
      r.round ? `${r.target} #${r.round}` : options.rounds > 1 ? `${r.target} median` : r.target,
      fmt(r.reqPerSec, 0),
      fmt(r.p50),
      fmt(r.p90),
      fmt(r.p99),
      fmt(r.max),
      String(r.requests),
      String(r.created),
      JSON.stringify(Object.fromEntries(Object.entries(r.status).filter(([code]) => code !== '201'))),
      String(r.errors + r.timeouts),
      fmt(r.serverCpuMsPerReq, 3),
      fmt(r.redisCpuMsPerReq, 3),
      fmt(r.loadCpuMsPerReq, 3),
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
    const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
    console.log(`\nPOST /seckill/orders, ${options.connections} connections, ${options.durationS} s per run (after ${options.warmupS} s warm-up), ${options.rounds} round(s), distinct buyer per request`);
    console.log(line(header));
    for (const row of rows) console.log(line(row));
    for (const r of results) {
      if (r.wrapped > 0) console.log(`warning: ${r.target} reused ${r.wrapped} (buyer, goods) pairs; raise BENCH_BUYERS or BENCH_GOODS`);
      // autocannon stops with requests in flight: the server may still reserve for those (at most
      // one per connection at each of the warm-up's and the run's ends), but never more
      const inFlight = r.unitsReserved - r.created - r.warmupCreated;
      const ok = inFlight >= 0 && inFlight <= 2 * options.connections * options.rounds;
      console.log(`${r.target}: ${r.unitsReserved} units taken from Redis stock = ${r.warmupCreated + r.created} 201s (warm-ups + runs) + ${inFlight} in flight at a stop${ok ? '' : '  <-- MISMATCH'}`);
    }
    const full = results.find((r) => r.target === 'full');
    const ratios: Record<string, { ratio: number; cpuRatio: number }> = {};
    for (const other of results.filter((r) => r.target !== 'full')) {
      if (!full) break;
      // each round's pair ran back to back, so its ratio cancels most of a drift in the machine's load
      const paired = Array.from({ length: options.rounds }, (_, i) => {
        const f = runs.find((r) => r.target === 'full' && r.round === i + 1)!;
        const b = runs.find((r) => r.target === other.target && r.round === i + 1)!;
        return f.reqPerSec / b.reqPerSec;
      });
      const ratio = median(paired);
      const cpu = (r: TargetFigures) => r.serverCpuMsPerReq + r.redisCpuMsPerReq + r.loadCpuMsPerReq;
      const cpuRatio = cpu(other) / cpu(full);
      ratios[other.target] = { ratio, cpuRatio };
      const goal = RATIO_TARGETS[other.target]!;
      if (options.rounds > 1) console.log(`\nratio full/${other.target} per round: ${paired.map((p) => fmt(p, 2)).join(', ')}`);
      console.log(`ratio full/${other.target} (req/s${options.rounds > 1 ? ', median of rounds' : ''}): ${fmt(ratio, 2)}  (target ≥ ${goal}: ${ratio >= goal ? 'met' : 'NOT met'})`);
      console.log(`CPU cost ratio ${other.target}/full (api + redis + autocannon CPU ms per request, medians): ${fmt(cpuRatio, 2)}`);
    }
    if (process.env.BENCH_JSON) {
      writeFileSync(process.env.BENCH_JSON, `${JSON.stringify({ machine, options, runs, results, ratios }, null, 2)}\n`);
    }
  } finally {
    await cleanUp();
  }
}

await main();
