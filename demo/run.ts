import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { Redis } from 'ioredis';
import { Connection } from 'rabbitmq-client';
import { ApiClient, SandboxClient } from '../chaos/lib/client.js';
import { timingSettings } from '../chaos/lib/cluster.js';
import { Judge } from '../chaos/lib/invariants.js';
import { SystemProcesses } from '../chaos/lib/processes.js';
import { deleteKeys } from '../bench/lib/common.js';
import { missingServices, redact } from '../src/cli/launcher/services.js';
import { loadConfig } from '../src/config/env.js';
import { withDatabase } from '../src/infra/db/connection-url.js';
import { keySpace } from '../src/infra/redis/keys.js';
import { migrate } from '../src/infra/db/migrate.js';
import { formatMs, histogram, percentiles } from './chart.js';
import { dropDatabase } from '../test/helpers/db.js';

/**
 * `npm run demo`: a whole flash sale, end to end, in about a minute.
 *
 * Starts its own system — the WeChat sandbox, the API and two workers as separate processes — on
 * the machine's Redis, MariaDB and RabbitMQ (the ones `npm start` uses), under names of its own (a
 * fresh database, key and queue prefixes, exchange and queues), with a short payment window. Then
 * 2,000 buyers rush 500 units; of those who got one, ~60 % pay through the sandbox, some cancel,
 * the rest let the window run out. Progress bars per phase, then the account: orders by state,
 * units sold / back on sale / held, the invariants checked against Redis, MySQL and the sandbox's
 * ledger, close lateness with a chart. Exits non-zero if an invariant fails. Everything it created
 * is removed at the end (`--keep` keeps it for a look in Bull Board or MySQL).
 */

const OPTIONS = {
    buyers: { type: 'string', default: '2000' },
    units: { type: 'string', default: '500' },
    pay: { type: 'string', default: '0.6' },
    cancel: { type: 'string', default: '0.1' },
    window: { type: 'string', default: '20' },
    workers: { type: 'string', default: '2' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
} as const;
const USAGE = `usage: npm run demo [-- --buyers 2000 --units 500 --pay 0.6 --cancel 0.1 --window 20 --workers 2 --keep]

  --buyers   buyers rushing the sale            --units   units on sale
  --pay      share of orders that pay           --cancel  share that cancel (the rest time out)
  --window   payment window, seconds (≥ 5)      --workers worker processes
  --keep     keep the database, keys and queues afterwards`;
function parseOptions() {
  try {
    return parseArgs({ options: OPTIONS }).values;
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
}
const values = parseOptions();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

function number(name: string, raw: string | undefined, min: number, max: number, integer = true): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    console.error(`--${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max} (got ${raw})`);
    process.exit(2);
  }
  return n;
}
const buyers = number('buyers', values.buyers, 1, 100_000);
const units = number('units', values.units, 1, 100_000);
const payShare = number('pay', values.pay, 0, 1, false);
const cancelShare = number('cancel', values.cancel, 0, 1, false);
const windowS = number('window', values.window, 5, 600);
const workerCount = number('workers', values.workers, 1, 8);
if (payShare + cancelShare > 1) {
  console.error('--pay + --cancel must be at most 1');
  process.exit(2);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tty = process.stdout.isTTY === true;
const say = (line: string) => console.log(line);

// --- the machine's services (the same variables npm start reads)
const base = loadConfig(process.env);
const down = await missingServices(base);
for (const s of down) console.error(`✗ ${s.name} is not reachable at ${redact(s.url)}\n    start it with: ${s.start}   (or point the demo at yours with the variables npm start uses)`);
if (down.length > 0) process.exit(1);

const id = randomBytes(3).toString('hex');
const names = {
  KEY_PREFIX: `demo${id}`,
  QUEUE_PREFIX: `{demo${id}}`,
  AMQP_EXCHANGE: `demo.${id}.exchange.order`,
  AMQP_QUEUE: `demo.${id}.queue.seckillorder`,
  AMQP_ROUTING_KEY: `demo.${id}.queue.seckillorder`,
  AMQP_DEAD_LETTER_QUEUE: `demo.${id}.queue.seckillorder.dead`,
};
const databaseName = `seckill_demo_${id}`;
const databaseUrl = withDatabase(base.databaseUrl, databaseName);
const secrets = { jwtSecret: `demo-jwt-secret-${randomBytes(16).toString('hex')}`, adminUser: 'demo', adminPassword: randomBytes(12).toString('hex') };
const logDir = mkdtempSync(join(tmpdir(), 'seckill-demo-'));

say(`seckill-timeout demo: ${buyers} buyers, ${units} units, ${Math.round(payShare * 100)} % pay, ${Math.round(cancelShare * 100)} % cancel, ${windowS} s payment window`);
say(`  starting sandbox, API and ${workerCount} worker(s) on your Redis/MariaDB/RabbitMQ as ${names.KEY_PREFIX} / ${databaseName} (logs: ${logDir})`);

let system: SystemProcesses | undefined;
let failed: boolean;
try {
  await migrate({ databaseUrl });
  system = await SystemProcesses.start(logDir, { redisUrl: base.redisUrl, amqpUrl: base.amqpUrl, databaseUrl }, workerCount, secrets, {
    ...timingSettings({ orderTimeoutMs: windowS * 1000, sandboxTimeScale: 0.01, closeMinAgeMs: 3_000, closeMaxAttempts: 8, closeBackoffMs: 250, workerLockMs: 5_000, stalledIntervalMs: 2_500, sweeperIntervalMs: 2_000 }),
    ...names,
    LOG_LEVEL: 'info', // to files; readiness is read from them
  });
  failed = !(await runSale(system));
} catch (err) {
  console.error(`demo failed: ${(err as Error).stack ?? String(err)}\n  logs: ${logDir}`);
  failed = true;
} finally {
  await system?.stopProcesses();
  if (!values.keep) await cleanUp().catch((err: Error) => console.error(`cleaning up: ${err.message}`));
  else say(`kept: database ${databaseName}, Redis keys ${names.KEY_PREFIX}:* and ${names.QUEUE_PREFIX}:*, exchange ${names.AMQP_EXCHANGE}`);
}
process.exit(failed ? 1 : 0);

async function runSale(sys: SystemProcesses): Promise<boolean> {
  const api = new ApiClient(sys.apiUrl, secrets);
  const sandbox = new SandboxClient(sys.sandboxUrl);
  const judge = new Judge(base.redisUrl, databaseUrl, names.KEY_PREFIX);
  const bars = new cliProgress.MultiBar({ format: '  {phase} [{bar}] {value}/{total} {detail}', barsize: 30, hideCursor: true, clearOnComplete: false, noTTYOutput: false, stopOnComplete: true }, cliProgress.Presets.shades_classic);
  try {
    const goodsId = await api.createGoods('demo phone', units, 4_999);
    const goods = [{ goodsId, initialStock: units }];
    const started = Date.now();

    // 1. the rush; 2. each buyer who got a unit decides at a random moment in the first half of
    //    their own payment window: pay (asks for the QR code, then the sandbox plays the buyer
    //    paying), cancel, or let the window run out
    const orders: { orderId: string; buyer: string }[] = [];
    let soldOut = 0;
    let otherRefusals = 0;
    const payers = Math.round(Math.min(units, buyers) * payShare);
    const cancellers = Math.round(Math.min(units, buyers) * cancelShare);
    let paid = 0;
    let cancelled = 0;
    let payFailures = 0;
    const grabBar = tty ? bars.create(buyers, 0, { phase: 'rush   ', detail: '' }) : undefined;
    const decideBar = tty ? bars.create(payers + cancellers, 0, { phase: 'decide ', detail: '' }) : undefined;
    const decisions: Promise<void>[] = [];
    const decide = async (order: { orderId: string; buyer: string }, n: number) => {
      await sleep(Math.random() * windowS * 500);
      if (n < payers) {
        // a buyer whose QR code does not come tries again, as people do
        let ok = false;
        for (let attempt = 0; attempt < 3 && !ok; attempt += 1) {
          const qr = await api.pay(order.buyer, order.orderId);
          if (qr.status === 200) ok = (await sandbox.buyerPays(order.orderId)).status === 200;
          else if (qr.status < 500) break;
        }
        if (ok) paid += 1;
        else payFailures += 1;
      } else if ((await api.cancel(order.buyer, order.orderId)).status === 202) cancelled += 1;
      decideBar?.increment(1, { detail: `${paid} paid, ${cancelled} cancelled` });
    };
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(100, buyers) }, async () => {
        while (next < buyers) {
          const buyer = `demo-buyer-${(next += 1)}`;
          const reply = await api.grab(buyer, goodsId);
          if (reply.status === 201) {
            const order = { orderId: reply.body.orderId, buyer };
            orders.push(order);
            if (orders.length <= payers + cancellers) decisions.push(decide(order, orders.length - 1));
          } else if (reply.body.code === 'SOLD_OUT') soldOut += 1;
          else otherRefusals += 1;
          grabBar?.increment(1, { detail: `${orders.length} orders, ${soldOut} sold out` });
        }
      }),
    );
    const rushS = (Date.now() - started) / 1000;
    if (!tty) say(`  rush: ${orders.length} orders, ${soldOut} buyers found it sold out (${rushS.toFixed(1)} s)`);
    await Promise.all(decisions);
    if (!tty) say(`  buyers: ${paid} paid through the sandbox, ${cancelled} cancelled, ${Math.max(0, orders.length - payers - cancellers)} let the window run out`);

    // 3. the rest time out; wait for every order to be final and in MySQL
    const settleBar = tty ? bars.create(orders.length, 0, { phase: 'settle ', detail: '' }) : undefined;
    const settled = await judge.drain(goods, windowS * 1000 + 120_000, (f) => settleBar?.update(orders.length - f.held, { detail: `held ${f.held}, outbox ${f.outbox}` }));
    if (settled.left) throw new Error(`the sale did not settle: ${settled.left}`);
    settleBar?.update(orders.length);
    bars.stop();
    await sleep(300); // the sandbox's ledger is written as it answers; nothing is in flight now

    // 4. the account
    const verdict = await judge.verdict(goods, new Set(orders.map((o) => o.orderId)), await sandbox.ledger());
    const c = verdict.counts;
    const available = Number(await judge.redis.get(keySpace(names.KEY_PREFIX).forGoods(goodsId).stock));
    say('');
    say(`Flash sale settled in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    say(`  buyers           ${buyers}   (${orders.length} got an order, ${soldOut} found it sold out${otherRefusals ? `, ${otherRefusals} refused otherwise` : ''})`);
    say(`  PAID             ${c.PAID}   units sold`);
    say(`  CLOSED           ${c.CLOSED}   units back on sale: ${c.closedByTimeout} timed out, ${c.closedByCancel} cancelled${payFailures ? ` (${payFailures} payments failed)` : ''}`);
    say(`  units            ${units} = ${c.PAID} sold + ${available} available + 0 held`);
    say('');
    say('Invariants');
    for (const check of verdict.checks) {
      say(`  ${check.failures.length === 0 ? '✓' : '✗'} ${check.name}`);
      for (const f of check.failures) say(`      ${f}`);
    }
    const late = verdict.lateness;
    const [p50, p90, p99] = percentiles(late, [0.5, 0.9, 0.99]);
    say('');
    say(`Close lateness of ${late.length} timed-out orders (closed − deadline): p50 ${formatMs(p50!)}, p90 ${formatMs(p90!)}, p99 ${formatMs(p99!)}, max ${formatMs(late.at(-1) ?? 0)}`);
    for (const row of histogram(late)) say(row);
    say('');
    const ok = verdict.violations.length === 0;
    say(ok ? 'All invariants hold.' : `${verdict.violations.length} invariant violation(s): see above (logs: ${logDir})`);
    return ok;
  } finally {
    bars.stop();
    await api.close();
    await sandbox.close();
    judge.close();
  }
}

async function cleanUp(): Promise<void> {
  const redis = new Redis(base.redisUrl, { maxRetriesPerRequest: 1 });
  try {
    await deleteKeys(redis, [`${names.KEY_PREFIX}:*`, `${names.QUEUE_PREFIX}:*`]);
  } finally {
    redis.disconnect();
  }
  const amqp = new Connection(base.amqpUrl);
  try {
    await amqp.queueDelete({ queue: names.AMQP_QUEUE });
    await amqp.queueDelete({ queue: names.AMQP_DEAD_LETTER_QUEUE });
    await amqp.exchangeDelete({ exchange: names.AMQP_EXCHANGE });
  } finally {
    await amqp.close();
  }
  await dropDatabase(databaseName, base.databaseUrl);
}
