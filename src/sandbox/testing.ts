import { request } from 'undici';
import type { AddressInfo } from 'node:net';
import { buildSandbox, type SandboxInstance, type SandboxOptions } from './app.js';
import type { Faults, FaultsPatch } from './faults.js';
import type { Ledger } from './store.js';

/**
 * For integration tests (ours and the order code's): a sandbox listening on a free loopback
 * port, with typed calls to its control API over real HTTP.
 */
export const TEST_MERCHANT = { appId: 'wxd930ea5d5a258f4f', mchId: '10000100', apiKey: '192006250b4c09247ec02edce69f6a2d' } as const;

export interface RunningSandbox {
  readonly app: SandboxInstance;
  /** `http://127.0.0.1:<port>`: the client's baseUrl. */
  readonly url: string;
  pay(outTradeNo: string, options?: { concurrent?: number; duplicates?: number }): Promise<ControlAnswer>;
  notify(outTradeNo: string, options?: { concurrent?: number; duplicates?: number }): Promise<ControlAnswer>;
  ledger(): Promise<Ledger>;
  order(outTradeNo: string): Promise<ControlAnswer>;
  faults(patch: FaultsPatch): Promise<Faults>;
  reset(): Promise<void>;
  control(method: 'GET' | 'POST', path: string, body?: unknown): Promise<ControlAnswer>;
  close(): Promise<void>;
}

export interface ControlAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export async function startSandbox(options: Partial<SandboxOptions> = {}): Promise<RunningSandbox> {
  const app = buildSandbox({ merchant: TEST_MERCHANT, timeScale: 0.001, ...options });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  const control = async (method: 'GET' | 'POST', path: string, body?: unknown): Promise<ControlAnswer> => {
    const res = await request(url + path, {
      method,
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
  };
  const expectOk = (answer: ControlAnswer, what: string) => {
    if (answer.status !== 200) throw new Error(`${what}: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body;
  };

  return {
    app,
    url,
    control,
    pay: (outTradeNo, o = {}) => control('POST', '/sandbox/pay', { out_trade_no: outTradeNo, ...o }),
    notify: (outTradeNo, o = {}) => control('POST', '/sandbox/notify', { out_trade_no: outTradeNo, ...o }),
    ledger: async () => expectOk(await control('GET', '/sandbox/ledger'), 'ledger') as unknown as Ledger,
    order: (outTradeNo) => control('GET', `/sandbox/orders/${encodeURIComponent(outTradeNo)}`),
    faults: async (patch) => expectOk(await control('POST', '/sandbox/faults', patch), 'faults') as unknown as Faults,
    reset: async () => void expectOk(await control('POST', '/sandbox/reset', {}), 'reset'),
    close: () => app.close(),
  };
}

/** Poll until `check` returns a value (not undefined) or the time is up. */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 5_000, everyMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
