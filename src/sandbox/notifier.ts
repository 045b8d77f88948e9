import { Agent, request } from 'undici';
import { parseWeChatXml } from '../infra/wechat/xml.js';
import type { DeliveryEntry } from './store.js';

/**
 * Delivers payment notifications the way WeChat does: POST the signed XML to `notify_url`;
 * only HTTP 200 with a `return_code=SUCCESS` XML reply counts; otherwise retry after
 * 15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h (24 h 4 min), each delay multiplied by
 * the sandbox time scale, then give up. Optionally each attempt goes out as several concurrent
 * copies ("several servers within seconds") and a delivered notification is sent again
 * `duplicates` more times. Every copy carries a fresh nonce and signature, so a receiver
 * cannot de-duplicate on them. `close()` clears every timer and aborts requests in flight.
 */
export const WECHAT_RETRY_SCHEDULE_MS: readonly number[] = [
  15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10_800, 10_800, 10_800, 21_600, 21_600,
].map((s) => s * 1000);

export interface Delivery {
  readonly outTradeNo: string;
  readonly transactionId: string;
  readonly url: string;
  /** Build the XML body of one copy (fresh nonce and signature each time). */
  readonly body: () => string;
  /** Copies sent at the same time for each attempt (≥ 1). */
  readonly concurrent: number;
  /** Extra deliveries after the first successful one. */
  readonly duplicates: number;
}

export interface NotifierOptions {
  readonly timeScale: number;
  /** How long one copy waits for the merchant's reply (not scaled). */
  readonly timeoutMs: number;
  readonly schedule?: readonly number[];
  readonly record: (entry: DeliveryEntry) => void;
  readonly settled: (outTradeNo: string, status: 'delivered' | 'gave-up') => void;
}

const MAX_REPLY_BYTES = 64 * 1024;

export class Notifier {
  readonly #opts: NotifierOptions;
  readonly #schedule: readonly number[];
  readonly #timers = new Set<NodeJS.Timeout>();
  #abort = new AbortController();
  // Bumped by cancelAll(): continuations of older cycles see a stale generation and stop.
  #generation = 0;
  readonly #agent = new Agent({ keepAliveTimeout: 1_000 });
  #inFlight = 0;
  #closed = false;

  constructor(opts: NotifierOptions) {
    this.#opts = opts;
    this.#schedule = opts.schedule ?? WECHAT_RETRY_SCHEDULE_MS;
  }

  /** Timers waiting plus copies in flight; 0 when the notifier is idle. */
  get pending(): number {
    return this.#timers.size + this.#inFlight;
  }

  deliver(d: Delivery): void {
    if (this.#closed) return;
    void this.#attempt(d, 0);
  }

  /** Forget every delivery cycle (sandbox reset); the notifier stays usable. */
  cancelAll(): void {
    this.#generation += 1;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#abort.abort();
    this.#abort = new AbortController();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.cancelAll();
    await this.#agent.destroy();
  }

  async #attempt(d: Delivery, attempt: number): Promise<void> {
    const generation = this.#generation;
    const kind = attempt === 0 ? 'first' : 'retry';
    const copies = await Promise.all(Array.from({ length: d.concurrent }, (_, copy) => this.#send(d, attempt, kind, copy)));
    if (this.#closed || generation !== this.#generation) return;
    if (copies.some(Boolean)) {
      this.#opts.settled(d.outTradeNo, 'delivered');
      for (let i = 1; i <= d.duplicates; i += 1) {
        this.#later(this.#delay(0) * i, () => void this.#send(d, attempt, 'duplicate', i - 1));
      }
      return;
    }
    const wait = this.#schedule[attempt];
    if (wait === undefined) {
      this.#opts.settled(d.outTradeNo, 'gave-up');
      return;
    }
    this.#later(this.#delay(attempt), () => void this.#attempt(d, attempt + 1));
  }

  #delay(index: number): number {
    return Math.max(0, Math.round((this.#schedule[index] ?? 0) * this.#opts.timeScale));
  }

  #later(ms: number, fn: () => void): void {
    if (this.#closed) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#closed) fn();
    }, ms);
    timer.unref(); // never what keeps a test process alive
    this.#timers.add(timer);
  }

  /** One copy; true when the merchant acknowledged it. */
  async #send(d: Delivery, attempt: number, kind: DeliveryEntry['kind'], copy: number): Promise<boolean> {
    if (this.#closed) return false;
    const generation = this.#generation;
    const live = () => !this.#closed && generation === this.#generation;
    this.#inFlight += 1;
    const base = { out_trade_no: d.outTradeNo, transaction_id: d.transactionId, attempt, kind, copy };
    const at = new Date().toISOString();
    try {
      const res = await request(d.url, {
        method: 'POST',
        headers: { 'content-type': 'text/xml; charset=utf-8' },
        body: d.body(),
        dispatcher: this.#agent,
        signal: AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#opts.timeoutMs)]),
      });
      const text = await readCapped(res.body);
      const acknowledged = res.statusCode === 200 && text !== undefined && isSuccessReply(text);
      if (live()) {
        this.#opts.record({ ...base, at, http_status: res.statusCode, outcome: acknowledged ? 'SUCCESS' : 'FAIL', detail: text?.slice(0, 200) });
      }
      return acknowledged;
    } catch (err) {
      if (live()) this.#opts.record({ ...base, at, outcome: 'ERROR', detail: err instanceof Error ? err.message : String(err) });
      return false;
    } finally {
      this.#inFlight -= 1;
    }
  }
}

async function readCapped(body: AsyncIterable<Buffer | Uint8Array> & { destroy(): void }): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > MAX_REPLY_BYTES) {
      body.destroy();
      return undefined;
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}

function isSuccessReply(text: string): boolean {
  try {
    return parseWeChatXml(text).return_code === 'SUCCESS';
  } catch {
    return false;
  }
}
