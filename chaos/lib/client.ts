import { Pool } from 'undici';
import { signBuyerToken } from '../../src/cli/dev-token.js';
import type { FaultsPatch } from '../../src/sandbox/faults.js';
import type { Ledger } from '../../src/sandbox/store.js';
import type { Secrets } from './processes.js';

/**
 * What the chaos suite does to the system from outside, over HTTP only: an admin puts goods on
 * sale, buyers (each with their own JWT) grab, ask for a QR code, cancel and look at orders, and
 * the sandbox's control API plays the buyers paying and the faults.
 */

export interface Reply<T = Record<string, unknown>> {
  status: number;
  body: T;
  /** set when no HTTP answer came at all (connection refused or reset, timeout) */
  error?: string;
}

export class Http {
  private readonly pool: Pool;

  constructor(readonly origin: string, connections = 64) {
    this.pool = new Pool(origin, { connections, pipelining: 1, headersTimeout: 30_000, bodyTimeout: 30_000 });
  }

  async send<T = Record<string, unknown>>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, options: { headers?: Record<string, string>; body?: string | Buffer; json?: unknown } = {}): Promise<Reply<T>> {
    const headers = { ...options.headers };
    let body = options.body;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    }
    try {
      const res = await this.pool.request({ method, path, headers, body });
      const text = await res.body.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : {};
      } catch {
        // XML or plain text: kept as the string
      }
      return { status: res.statusCode, body: parsed as T };
    } catch (err) {
      return { status: 0, body: {} as T, error: (err as Error).message };
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

export class ApiClient {
  readonly http: Http;
  private readonly tokens = new Map<string, string>();

  constructor(origin: string, readonly secrets: Secrets) {
    this.http = new Http(origin);
  }

  bearer(buyer: string): Record<string, string> {
    let token = this.tokens.get(buyer);
    if (!token) this.tokens.set(buyer, (token = signBuyerToken(this.secrets.jwtSecret, buyer)));
    return { authorization: `Bearer ${token}` };
  }

  admin(): Record<string, string> {
    return { authorization: `Basic ${Buffer.from(`${this.secrets.adminUser}:${this.secrets.adminPassword}`).toString('base64')}` };
  }

  /** Goods on sale from now for an hour; returns its id. */
  async createGoods(title: string, stockCount: number, price = 100): Promise<string> {
    const now = Date.now();
    const reply = await this.http.send<{ id: string }>('POST', '/admin/seckill/goods', {
      headers: this.admin(),
      json: { title, price, stockCount, startTime: new Date(now - 1_000).toISOString(), endTime: new Date(now + 3_600_000).toISOString() },
    });
    if (reply.status !== 201) throw new Error(`creating goods failed: ${reply.status} ${JSON.stringify(reply.body)}${reply.error ?? ''}`);
    return String(reply.body.id);
  }

  grab(buyer: string, goodsId: string): Promise<Reply<{ orderId: string; deadline: string; code?: string }>> {
    return this.http.send('POST', '/seckill/orders', { headers: this.bearer(buyer), json: { goodsId } });
  }

  /** `/pay`: creates the WeChat order (NATIVE) the sandbox buyer then pays. */
  pay(buyer: string, orderId: string): Promise<Reply<{ codeUrl: string; code?: string }>> {
    return this.http.send('POST', `/seckill/orders/${orderId}/pay`, { headers: this.bearer(buyer) });
  }

  cancel(buyer: string, orderId: string): Promise<Reply> {
    return this.http.send('POST', `/seckill/orders/${orderId}/cancel`, { headers: this.bearer(buyer) });
  }

  order(buyer: string, orderId: string): Promise<Reply<{ status: string }>> {
    return this.http.send('GET', `/seckill/orders/${orderId}`, { headers: this.bearer(buyer) });
  }

  close(): Promise<void> {
    return this.http.close();
  }
}

/** The sandbox's control API (a stand-in for the buyer's phone and for WeChat's bad days). */
export class SandboxClient {
  readonly http: Http;

  constructor(origin: string) {
    this.http = new Http(origin, 32);
  }

  /** The buyer pays; WeChat then notifies (`duplicates` extra copies, `concurrent` at once). */
  buyerPays(outTradeNo: string, options: { duplicates?: number; concurrent?: number } = {}): Promise<Reply<{ transaction_id?: string; code?: string }>> {
    return this.http.send('POST', '/sandbox/pay', { json: { out_trade_no: outTradeNo, ...options } });
  }

  async faults(patch: FaultsPatch): Promise<void> {
    const reply = await this.http.send('POST', '/sandbox/faults', { json: patch });
    if (reply.status !== 200) throw new Error(`sandbox faults: ${reply.status} ${JSON.stringify(reply.body)}`);
  }

  /** Every fault off, WeChat's 5-minute close rule on (as at WeChat). */
  async healthy(): Promise<void> {
    await this.faults({ systemErrorRate: 0, delayMs: 0, dropRate: 0, tamper: 'none', closeRule: true, dropNotifications: false, payDuringClose: false });
  }

  async ledger(): Promise<Ledger> {
    const reply = await this.http.send<Ledger>('GET', '/sandbox/ledger');
    if (reply.status !== 200) throw new Error(`sandbox ledger: ${reply.status}`);
    return reply.body;
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
