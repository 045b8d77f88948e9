import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, TEST_MERCHANT, type RunningSandbox } from '../../sandbox/testing.js';
import { WeChatPayClient } from './client.js';
import { signFields, type SignType } from './sign.js';
import { buildXml } from './xml.js';
import type { UnifiedOrderParams, WeChatResult } from './result.js';

// Client against the sandbox over real HTTP on loopback: no mocks in between.
let sandbox: RunningSandbox;
const clients: WeChatPayClient[] = [];
let seq = 0;

beforeAll(async () => {
  // WeChat's 5-minute close rule (on by default) is off here but for its own test below
  sandbox = await startSandbox({ faults: { closeRule: false } });
});
afterEach(async () => {
  await sandbox.reset();
  await Promise.all(clients.splice(0).map((c) => c.close()));
});
afterAll(async () => {
  await sandbox.close();
});

function client(overrides: Partial<ConstructorParameters<typeof WeChatPayClient>[0]> = {}): WeChatPayClient {
  const c = new WeChatPayClient({ baseUrl: sandbox.url, ...TEST_MERCHANT, signType: 'MD5', timeoutMs: 2_000, ...overrides });
  clients.push(c);
  return c;
}

/** A fresh out_trade_no with leading zeros, which must survive every hop. */
const nextOrderNo = () => `00${Date.now()}${String((seq += 1)).padStart(4, '0')}`;

// One fixed deadline: re-entry needs identical parameters, and time_expire has second precision.
const DEADLINE = new Date(Date.now() + 30 * 60_000);

function order(outTradeNo: string, extra: Partial<UnifiedOrderParams> = {}): UnifiedOrderParams {
  return {
    outTradeNo,
    totalFee: 990,
    body: '秒杀商品 & more',
    productId: 'goods-1',
    notifyUrl: 'http://127.0.0.1:9/pay/wechat/notify',
    timeExpire: DEADLINE,
    attach: 'order=1',
    ...extra,
  };
}

function expectOk<T>(result: WeChatResult<T>): T {
  if (result.kind !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(result)}`);
  return result.data;
}

describe.each<SignType>(['MD5', 'HMAC-SHA256'])('WeChatPayClient with %s', (signType) => {
  it('creates a NATIVE order, re-enters it with the same parameters, refuses different ones', async () => {
    const c = client({ signType });
    const no = nextOrderNo();
    const first = expectOk(await c.unifiedOrder(order(no)));
    expect(first.tradeType).toBe('NATIVE');
    expect(first.prepayId).toMatch(/^wx\d{14}[0-9a-f]{20}$/);
    expect(first.codeUrl).toMatch(/^weixin:\/\/wxpay\/bizpayurl\?pr=/);

    expect(expectOk(await c.unifiedOrder(order(no)))).toEqual(first);
    expect(await c.unifiedOrder(order(no, { totalFee: 991 }))).toEqual({ kind: 'error', errCode: 'INVALID_REQUEST', errCodeDes: '201 商户订单号重复' });
    expect(await c.unifiedOrder(order(no, { attach: undefined }))).toMatchObject({ kind: 'error', errCode: 'INVALID_REQUEST' });
    // A deadline recomputed from "now" is a different parameter: callers must pass a fixed one.
    expect(await c.unifiedOrder(order(no, { timeExpire: new Date(DEADLINE.getTime() + 1_000) }))).toMatchObject({ kind: 'error', errCode: 'INVALID_REQUEST' });

    const stored = await sandbox.order(no);
    expect(stored.body).toMatchObject({ out_trade_no: no, trade_state: 'NOTPAY', sign_type: signType, total_fee: 990 });
  });

  it('creates a JSAPI order (prepay_id, no code_url)', async () => {
    const data = expectOk(await client({ signType }).unifiedOrder(order(nextOrderNo(), { tradeType: 'JSAPI', openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o', productId: undefined })));
    expect(data.tradeType).toBe('JSAPI');
    expect(data.codeUrl).toBeUndefined();
  });

  it('queries, closes, and then sees CLOSED / ORDERCLOSED everywhere', async () => {
    const c = client({ signType });
    const no = nextOrderNo();
    expectOk(await c.unifiedOrder(order(no)));
    expect(expectOk(await c.orderQuery({ outTradeNo: no }))).toMatchObject({ tradeState: 'NOTPAY', outTradeNo: no, transactionId: undefined });

    expect(await c.closeOrder(no)).toEqual({ kind: 'ok', data: {} });
    expect(expectOk(await c.orderQuery({ outTradeNo: no })).tradeState).toBe('CLOSED');
    expect(await c.closeOrder(no)).toMatchObject({ kind: 'error', errCode: 'ORDERCLOSED' });
    expect(await c.unifiedOrder(order(no))).toMatchObject({ kind: 'error', errCode: 'ORDERCLOSED' });
    expect((await sandbox.pay(no)).status).toBe(409);

    const ledger = await sandbox.ledger();
    expect(ledger.closed.map((e) => e.out_trade_no)).toEqual([no]);
    expect(ledger.paid).toEqual([]);
  });

  it('sees a payment: SUCCESS with a 28-digit transaction id, then ORDERPAID on close and re-entry', async () => {
    const c = client({ signType });
    const no = nextOrderNo();
    expectOk(await c.unifiedOrder(order(no)));
    const paid = await sandbox.pay(no);
    expect(paid.status).toBe(200);

    const q = expectOk(await c.orderQuery({ outTradeNo: no }));
    expect(q).toMatchObject({ tradeState: 'SUCCESS', outTradeNo: no, totalFee: 990, cashFee: 990, attach: 'order=1' });
    expect(q.transactionId).toMatch(/^\d{28}$/);
    expect(q.transactionId).toBe(paid.body.transaction_id);
    expect(q.timeEnd).toMatch(/^\d{14}$/);

    const byTransaction = expectOk(await c.orderQuery({ transactionId: q.transactionId ?? '' }));
    expect(byTransaction.outTradeNo).toBe(no);

    expect(await c.closeOrder(no)).toMatchObject({ kind: 'error', errCode: 'ORDERPAID' });
    expect(await c.unifiedOrder(order(no))).toMatchObject({ kind: 'error', errCode: 'ORDERPAID' });
    expect((await sandbox.ledger()).paid).toMatchObject([{ out_trade_no: no, transaction_id: q.transactionId, total_fee: 990 }]);
  });

  it('reports unknown orders as ORDERNOTEXIST', async () => {
    const c = client({ signType });
    expect(await c.closeOrder('000000never')).toMatchObject({ kind: 'error', errCode: 'ORDERNOTEXIST' });
    expect(await c.orderQuery({ outTradeNo: '000000never' })).toMatchObject({ kind: 'error', errCode: 'ORDERNOTEXIST' });
    expect(await c.orderQuery({ transactionId: '4200000000202401010000000000' })).toMatchObject({ kind: 'error', errCode: 'ORDERNOTEXIST' });
  });

  it('classifies a forged response signature as fatal', async () => {
    const c = client({ signType });
    expectOk(await c.unifiedOrder(order(nextOrderNo())));
    await sandbox.faults({ tamper: 'bad-signature' });
    expect(await c.orderQuery({ outTradeNo: '000000never' })).toMatchObject({ kind: 'fatal', category: 'signature' });
  });
});

describe('WeChatPayClient result classification', () => {
  it('SYSTEMERROR is retryable and changes nothing at WeChat', async () => {
    const c = client();
    const no = nextOrderNo();
    expectOk(await c.unifiedOrder(order(no)));
    await sandbox.faults({ systemErrorRate: { closeorder: 1 } });
    expect(await c.closeOrder(no)).toMatchObject({ kind: 'retryable', category: 'system-error', reason: 'SYSTEMERROR: 系统错误' });
    expect(expectOk(await c.orderQuery({ outTradeNo: no })).tradeState).toBe('NOTPAY');
    await sandbox.faults({ systemErrorRate: 0 });
    expect(await c.closeOrder(no)).toMatchObject({ kind: 'ok' });
  });

  it('a dropped response is retryable; the close did happen, so the retry sees ORDERCLOSED', async () => {
    const c = client();
    const no = nextOrderNo();
    expectOk(await c.unifiedOrder(order(no)));
    await sandbox.faults({ dropRate: { closeorder: 1 } });
    expect(await c.closeOrder(no)).toMatchObject({ kind: 'retryable', category: 'connection' });
    await sandbox.faults({ dropRate: 0 });
    expect(await c.closeOrder(no)).toMatchObject({ kind: 'error', errCode: 'ORDERCLOSED' });
  });

  it('a response slower than the timeout is retryable', async () => {
    const c = client({ timeoutMs: 150 });
    await sandbox.faults({ delayMs: 1_000 });
    const started = Date.now();
    expect(await c.orderQuery({ outTradeNo: '000000never' })).toMatchObject({ kind: 'retryable', category: 'timeout' });
    expect(Date.now() - started).toBeLessThan(900);
  });

  it('HTTP 5xx and non-XML bodies are retryable', async () => {
    const c = client();
    await sandbox.faults({ tamper: 'http-500' });
    expect(await c.orderQuery({ outTradeNo: '000000never' })).toMatchObject({ kind: 'retryable', category: 'http-status', reason: 'HTTP 500' });
    await sandbox.faults({ tamper: 'non-xml' });
    expect(await c.orderQuery({ outTradeNo: '000000never' })).toMatchObject({ kind: 'retryable', category: 'bad-body' });
  });

  it('an unsigned SUCCESS and another merchant\'s answer are fatal', async () => {
    const c = client();
    await sandbox.faults({ tamper: 'unsigned' });
    expect(await c.closeOrder('000000never')).toMatchObject({ kind: 'fatal', category: 'signature', reason: 'SUCCESS response without sign' });
    await sandbox.faults({ tamper: 'other-appid' });
    expect(await c.closeOrder('000000never')).toMatchObject({ kind: 'fatal', category: 'merchant-mismatch' });
    await sandbox.faults({ tamper: 'other-mch-id' });
    expect(await c.closeOrder('000000never')).toMatchObject({ kind: 'fatal', category: 'merchant-mismatch' });
  });

  it('a response signed with the other algorithm is fatal (the type is pinned)', async () => {
    // A faithful WeChat signs with the request's type; this server always signs MD5.
    const md5Only = await rogueServer(() => ({ status: 200, body: signedAnswer({ result_code: 'SUCCESS', result_msg: 'OK' }, 'MD5') }));
    try {
      expect(await client({ baseUrl: md5Only.url, signType: 'MD5' }).closeOrder('000000never')).toMatchObject({ kind: 'ok' });
      expect(await client({ baseUrl: md5Only.url, signType: 'HMAC-SHA256' }).closeOrder('000000never')).toMatchObject({ kind: 'fatal', category: 'signature' });
    } finally {
      await md5Only.close();
    }
  });

  it('return_code=FAIL is fatal: wrong key (签名错误), unknown merchant (MCHID不存在)', async () => {
    expect(await client({ apiKey: 'x'.repeat(32) }).closeOrder('000000never')).toEqual({
      kind: 'fatal',
      category: 'return-fail',
      reason: 'return_code=FAIL: 签名错误',
    });
    expect(await client({ mchId: '10000101' }).closeOrder('000000never')).toMatchObject({ kind: 'fatal', category: 'return-fail', reason: 'return_code=FAIL: MCHID不存在' });
  });

  it('an appid that is not the merchant\'s is the business error APPID_MCHID_NOT_MATCH', async () => {
    expect(await client({ appId: 'wx0123456789abcdef' }).closeOrder('000000never')).toMatchObject({ kind: 'error', errCode: 'APPID_MCHID_NOT_MATCH' });
  });

  it('connection refused is retryable; a 404 (wrong base URL) is fatal', async () => {
    const closed = await rogueServer(() => ({ status: 200, body: '' }));
    const deadUrl = closed.url;
    await closed.close();
    expect(await client({ baseUrl: deadUrl }).closeOrder('000000never')).toMatchObject({ kind: 'retryable', category: 'connection' });

    const notFound = await rogueServer(() => ({ status: 404, body: 'not found' }));
    try {
      expect(await client({ baseUrl: notFound.url }).closeOrder('000000never')).toEqual({ kind: 'fatal', category: 'http-status', reason: 'HTTP 404' });
    } finally {
      await notFound.close();
    }
  });

  it('an oversized or non-UTF-8 answer is retryable', async () => {
    const big = await rogueServer(() => ({ status: 200, body: `<xml><a>${'x'.repeat(70_000)}</a></xml>` }));
    const latin1 = await rogueServer(() => ({ status: 200, body: Buffer.from([0x3c, 0x78, 0x3e, 0xff, 0x3c, 0x2f, 0x78, 0x3e]) }));
    try {
      expect(await client({ baseUrl: big.url }).closeOrder('000000never')).toMatchObject({ kind: 'retryable', category: 'bad-body' });
      expect(await client({ baseUrl: latin1.url }).closeOrder('000000never')).toMatchObject({ kind: 'retryable', category: 'bad-body' });
    } finally {
      await big.close();
      await latin1.close();
    }
  });

  it('an undocumented err_code or trade_state is fatal, even when correctly signed', async () => {
    const answer = (fields: Record<string, string>) => signedAnswer(fields, 'MD5');
    const odd = await rogueServer((path) => ({
      status: 200,
      body: path.endsWith('closeorder')
        ? answer({ result_code: 'FAIL', err_code: 'SOMETHING_NEW', err_code_des: '?' })
        : answer({ result_code: 'SUCCESS', out_trade_no: '000000never', trade_state: 'TELEPORTED' }),
    }));
    try {
      const c = client({ baseUrl: odd.url });
      expect(await c.closeOrder('000000never')).toMatchObject({ kind: 'fatal', category: 'unknown-err-code' });
      expect(await c.orderQuery({ outTradeNo: '000000never' })).toMatchObject({ kind: 'fatal', category: 'malformed' });
      expect(await c.orderQuery({ outTradeNo: '000000other' })).toMatchObject({ kind: 'fatal', category: 'merchant-mismatch' });
    } finally {
      await odd.close();
    }
  });

  it('refuses invalid parameters locally, without a call', async () => {
    const c = client({ baseUrl: 'http://127.0.0.1:9' });
    const bad: Partial<UnifiedOrderParams>[] = [
      { outTradeNo: 'short' },
      { outTradeNo: 'has space 123' },
      { totalFee: 0 },
      { totalFee: 1.5 },
      { notifyUrl: 'http://x.test/notify?a=1' },
      { productId: undefined },
      { body: '' },
    ];
    for (const b of bad) expect(await c.unifiedOrder(order(nextOrderNo(), b))).toMatchObject({ kind: 'fatal', category: 'invalid-request' });
    expect(await c.unifiedOrder(order(nextOrderNo(), { tradeType: 'JSAPI' }))).toMatchObject({ kind: 'fatal', category: 'invalid-request' });
    expect(await c.closeOrder('a b')).toMatchObject({ kind: 'fatal', category: 'invalid-request' });
  });
});

describe('refund answers are trusted only when they are about this very refund', () => {
  const ask = { outTradeNo: '000000refund', transactionId: '4200000000000000000000000001', outRefundNo: 'RF000000refund', totalFee: 500, refundFee: 500 };
  const refundAnswer = (over: Record<string, string> = {}) =>
    signedAnswer({ result_code: 'SUCCESS', transaction_id: ask.transactionId, out_trade_no: ask.outTradeNo, out_refund_no: ask.outRefundNo, refund_id: '50000000000000000000000000001', refund_fee: '500', total_fee: '500', cash_fee: '500', ...over }, 'MD5');

  it('accepts a signed answer for the same order, refund and amounts; sends to /secapi/pay/refund', async () => {
    const paths: string[] = [];
    const rogue = await rogueServer((path) => (paths.push(path), { status: 200, body: refundAnswer() }));
    try {
      expect(await client({ baseUrl: rogue.url, signType: 'MD5' }).refund(ask)).toMatchObject({ kind: 'ok', data: { refundId: '50000000000000000000000000001', refundFee: 500 } });
      expect(paths).toEqual(['/secapi/pay/refund']);
    } finally {
      await rogue.close();
    }
  });

  it.each([
    ['another amount', { refund_fee: '1' }, 'malformed'],
    ['another order', { out_trade_no: '000000other' }, 'merchant-mismatch'],
    ['another refund', { out_refund_no: 'RF000000other' }, 'merchant-mismatch'],
    ['another merchant', { mch_id: '10000101' }, 'merchant-mismatch'],
  ])('refuses an answer for %s', async (_what, over, category) => {
    const rogue = await rogueServer(() => ({ status: 200, body: refundAnswer(over) }));
    try {
      expect(await client({ baseUrl: rogue.url, signType: 'MD5' }).refund(ask)).toMatchObject({ kind: 'fatal', category });
    } finally {
      await rogue.close();
    }
  });

  it('refuses an unsigned answer; BIZERR_NEED_RETRY is retryable; bad input is refused before sending', async () => {
    const unsigned = await rogueServer(() => ({ status: 200, body: buildXml({ return_code: 'SUCCESS', result_code: 'SUCCESS', out_refund_no: ask.outRefundNo }) }));
    const busy = await rogueServer(() => ({ status: 200, body: signedAnswer({ result_code: 'FAIL', err_code: 'BIZERR_NEED_RETRY', err_code_des: '退款业务流程错误，需要商户触发重试来解决' }, 'MD5') }));
    try {
      expect(await client({ baseUrl: unsigned.url, signType: 'MD5' }).refund(ask)).toMatchObject({ kind: 'fatal', category: 'signature' });
      expect(await client({ baseUrl: busy.url, signType: 'MD5' }).refund(ask)).toMatchObject({ kind: 'retryable', category: 'system-error' });
      expect(await client({ baseUrl: busy.url }).refund({ ...ask, refundFee: 501 })).toMatchObject({ kind: 'fatal', category: 'invalid-request' });
      expect(await client({ baseUrl: busy.url }).refund({ ...ask, outRefundNo: 'no spaces' })).toMatchObject({ kind: 'fatal', category: 'invalid-request' });
    } finally {
      await unsigned.close();
      await busy.close();
    }
  });
});

describe('sandbox faults seen through the client', () => {
  it('pay during close: the close answers ORDERPAID and the payment is in the ledger', async () => {
    const c = client();
    const no = nextOrderNo();
    expectOk(await c.unifiedOrder(order(no)));
    await sandbox.faults({ payDuringClose: [no] });
    expect(await c.closeOrder(no)).toMatchObject({ kind: 'error', errCode: 'ORDERPAID' });
    const q = expectOk(await c.orderQuery({ outTradeNo: no }));
    expect(q.tradeState).toBe('SUCCESS');
    expect((await sandbox.ledger()).paid).toMatchObject([{ out_trade_no: no, transaction_id: q.transactionId, via: 'pay-during-close' }]);
  });

  it('the 5-minute close rule (scaled) answers a retryable SYSTEMERROR until the window has passed', async () => {
    // Own sandbox at scale 0.004: the window is 1.2 s, wide enough for a loaded machine.
    const own = await startSandbox({ timeScale: 0.004, faults: { closeRule: true } });
    try {
      const c = client({ baseUrl: own.url });
      const no = nextOrderNo();
      expectOk(await c.unifiedOrder(order(no)));
      expect(await c.closeOrder(no)).toMatchObject({ kind: 'retryable', category: 'system-error', reason: 'SYSTEMERROR: 订单创建5分钟内不能关闭' });
      await new Promise((resolve) => setTimeout(resolve, 1_250));
      expect(await c.closeOrder(no)).toMatchObject({ kind: 'ok' });
    } finally {
      await own.close();
    }
  });

  it('close() releases the pool; later calls are retryable, not thrown', async () => {
    const c = new WeChatPayClient({ baseUrl: sandbox.url, ...TEST_MERCHANT, signType: 'MD5', timeoutMs: 1_000 });
    await c.close();
    expect(await c.closeOrder('000000never')).toMatchObject({ kind: 'retryable', category: 'connection' });
  });
});

/** A correctly signed answer from "WeChat" for the test merchant. */
function signedAnswer(fields: Record<string, string>, signType: SignType): string {
  const all = { return_code: 'SUCCESS', appid: TEST_MERCHANT.appId, mch_id: TEST_MERCHANT.mchId, nonce_str: 'n0nce', ...fields };
  return buildXml({ ...all, sign: signFields(all, TEST_MERCHANT.apiKey, signType) });
}

interface Rogue {
  readonly url: string;
  close(): Promise<void>;
}

/** A server that is not the sandbox, for answers no faithful WeChat gives. */
async function rogueServer(answer: (path: string) => { status: number; body: string | Buffer }): Promise<Rogue> {
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const { status, body } = answer(req.url ?? '');
      res.writeHead(status, { 'content-type': 'text/xml' }).end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
