import type { ApiClient, SandboxClient } from './client.js';
import type { Cluster } from './cluster.js';
import { CHAOS_TIMINGS } from './cluster.js';
import type { GoodsUnderTest, Judge, Verdict } from './invariants.js';

/** What every experiment gets: the running system, clients, the judge and the run's size. */
export interface ExperimentContext {
  cluster: Cluster;
  api: ApiClient;
  sandbox: SandboxClient;
  judge: Judge;
  /** 1 for the full suite; smaller for `--short` (CI) */
  scale: number;
  /** a progress line (stderr), not part of the report */
  say(line: string): void;
}

export interface ExperimentResult {
  orders: number;
  faults: number;
  drainMs: number;
  /** longest an order stayed UNPAID past its deadline, sampled every 250 ms */
  maxOverdueMs: number;
  /** the bound the experiment allows for that (sweeper interval, plus the fault's own length) */
  overdueBoundMs: number;
  verdict: Verdict;
  /** anything else worth printing, e.g. `{ kills: 30 }` */
  figures: Record<string, string | number>;
  /** extra violations found by the experiment itself (e.g. a 5xx for bad input) */
  violations: string[];
}

export interface Experiment {
  name: string;
  title: string;
  run(ctx: ExperimentContext): Promise<ExperimentResult>;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Run `fn(i)` for i < count, started at `perSecond` (open loop), at most `inFlight` at once. */
export async function paced(count: number, perSecond: number, fn: (i: number) => Promise<void>, inFlight = 256): Promise<void> {
  const started = Date.now();
  const running = new Set<Promise<void>>();
  for (let i = 0; i < count; i += 1) {
    const due = started + (i * 1000) / perSecond;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    while (running.size >= inFlight) await Promise.race(running);
    const p = fn(i).finally(() => running.delete(p));
    running.add(p);
  }
  await Promise.all(running);
}

/** Samples how long orders stay UNPAID past their deadline, while an experiment runs. */
export class OverdueWatch {
  max = 0;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(
    private readonly judge: Judge,
    private readonly goods: () => readonly GoodsUnderTest[],
  ) {}

  start(): this {
    this.timer = setInterval(() => {
      if (this.busy) return;
      this.busy = true;
      this.judge
        .overdueUnpaidMs(this.goods())
        .then((ms) => (this.max = Math.max(this.max, ms)))
        .catch(() => undefined) // Redis down in this experiment: nothing to sample
        .finally(() => (this.busy = false));
    }, 250);
    return this;
  }

  stop(): number {
    clearInterval(this.timer);
    return this.max;
  }
}

/**
 * One flash sale of an experiment: goods, the buyers' orders (every one the API acknowledged),
 * and the closing account. Buyers are named `<experiment>-<n>` so each has one order per goods.
 */
export class Sale {
  readonly goods: GoodsUnderTest[] = [];
  readonly orders = new Map<string, { buyer: string; goodsId: string; deadline: number }>();
  /** grabs that got no answer (connection reset, API down): their order may or may not exist */
  unanswered = 0;
  private buyerSeq = 0;

  constructor(
    private readonly ctx: ExperimentContext,
    readonly name: string,
  ) {}

  async addGoods(stock: number): Promise<string> {
    const goodsId = await this.ctx.api.createGoods(`chaos ${this.name}`, stock);
    this.goods.push({ goodsId, initialStock: stock });
    return goodsId;
  }

  /** A new buyer grabs one unit; the order (or undefined when refused or unanswered). */
  async grab(goodsId: string): Promise<{ orderId: string; buyer: string } | undefined> {
    const buyer = `${this.name}-${(this.buyerSeq += 1)}`;
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const reply = await this.ctx.api.grab(buyer, goodsId);
      if (reply.status === 201) {
        const orderId = reply.body.orderId;
        this.orders.set(orderId, { buyer, goodsId, deadline: Date.parse(reply.body.deadline) });
        return { orderId, buyer };
      }
      if (reply.status === 409 && reply.body.code === 'REPEAT_ORDER') return undefined; // an earlier attempt got through; its answer was lost
      if (reply.status !== 0 && reply.status < 500) return undefined;
      if (reply.status === 0) this.unanswered += 1;
      await sleep(200);
    }
    return undefined;
  }

  /** `/pay` until WeChat (the sandbox) answers with a QR code; false if it never did. */
  async requestPayment(orderId: string, attempts = 10): Promise<boolean> {
    const order = this.orders.get(orderId);
    if (!order) return false;
    for (let i = 0; i < attempts; i += 1) {
      const reply = await this.ctx.api.pay(order.buyer, orderId);
      if (reply.status === 200) return true;
      if (reply.status === 409 || reply.status === 404) return false;
      await sleep(100 * (i + 1));
    }
    return false;
  }

  watch(): OverdueWatch {
    return new OverdueWatch(this.ctx.judge, () => this.goods).start();
  }

  /** Wait for the system to settle, then judge. */
  async account(drainTimeoutMs = 180_000): Promise<{ verdict: Verdict; drainMs: number; drainViolation?: string }> {
    const drained = await this.ctx.judge.drain(this.goods, drainTimeoutMs);
    // a refund is asynchronous at WeChat (PROCESSING for 10 s × time scale): give late payments
    // their refunds' time before reading the ledger
    await sleep(CHAOS_TIMINGS.sandboxTimeScale * 10_000 + 500);
    const ledger = await this.ctx.sandbox.ledger();
    const verdict = await this.ctx.judge.verdict(this.goods, new Set(this.orders.keys()), ledger);
    return { verdict, drainMs: drained.drainMs, ...(drained.left ? { drainViolation: `not drained after ${Math.round(drainTimeoutMs / 1000)} s: ${drained.left}` } : {}) };
  }
}

/** The usual closing: account for the sale and fold everything into a result. */
export async function finish(sale: Sale, watch: OverdueWatch, input: { faults: number; overdueBoundMs: number; figures?: Record<string, string | number>; violations?: string[] }): Promise<ExperimentResult> {
  const { verdict, drainMs, drainViolation } = await sale.account();
  const maxOverdueMs = watch.stop();
  const violations = [...(input.violations ?? [])];
  if (drainViolation) violations.push(drainViolation);
  if (maxOverdueMs > input.overdueBoundMs) violations.push(`an order stayed UNPAID ${maxOverdueMs} ms past its deadline (bound ${input.overdueBoundMs} ms)`);
  return {
    orders: verdict.counts.orders ?? sale.orders.size,
    faults: input.faults,
    drainMs,
    maxOverdueMs,
    overdueBoundMs: input.overdueBoundMs,
    verdict,
    figures: { ...(sale.unanswered ? { unansweredGrabs: sale.unanswered } : {}), ...input.figures },
    violations,
  };
}
