import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BillFormatError, parseBill } from '../domain/reconciliation/bill.js';
import { beijingDate } from '../domain/reconciliation/bill-date.js';
import { WeChatPayClient } from '../infra/wechat/client.js';
import { startSandbox, TEST_MERCHANT, type RunningSandbox } from './testing.js';

/**
 * The sandbox's daily bill through our WeChat client (downloadbill, plain and GZIP): bills for the
 * ledger's past days, WeChat's error answers, and the faults that make a bill wrong.
 */
let sandbox: RunningSandbox;
let client: WeChatPayClient;
const DAY = 86_400_000;
const yesterday = () => beijingDate(new Date(Date.now() - DAY));
const merchant = { appId: TEST_MERCHANT.appId, mchId: TEST_MERCHANT.mchId };

beforeAll(async () => {
  sandbox = await startSandbox({ faults: { closeRule: false } });
  client = new WeChatPayClient({ baseUrl: sandbox.url, ...TEST_MERCHANT, signType: 'MD5', timeoutMs: 5_000 });
});
afterEach(async () => {
  await sandbox.reset();
});
afterAll(async () => {
  await client.close();
  await sandbox.close();
});

let seq = 0;
/** An order created, and paid unless `paid` is false, with the sandbox's clock a day back. */
async function yesterdayOrder(fee: number, body = 'phone', paid = true): Promise<string> {
  const no = `bill${Date.now()}${(seq += 1)}`;
  const created = await client.unifiedOrder({ outTradeNo: no, totalFee: fee, body, productId: 'p', notifyUrl: 'http://127.0.0.1:9/n' });
  expect(created.kind).toBe('ok');
  if (paid) expect((await sandbox.pay(no)).status).toBe(200);
  return no;
}
const shiftClock = (offsetMs: number) => sandbox.control('POST', '/sandbox/clock', { offset_ms: offsetMs });

async function download(billDate: string, gzip: boolean) {
  const res = await client.downloadBill({ billDate, gzip, maxBytes: 1024 * 1024 });
  if (res.kind !== 'ok') throw new Error(`downloadbill: ${JSON.stringify(res)}`);
  return res.data;
}

describe('downloadbill on the sandbox', () => {
  it('bills a past day from the ledger: payments and refunds, plain and GZIP, identical', async () => {
    await shiftClock(-DAY);
    const a = await yesterdayOrder(1999, 'iPhone, 256 GB');
    const b = await yesterdayOrder(1);
    await yesterdayOrder(500, 'never paid', false);
    expect((await sandbox.control('POST', '/sandbox/refund', { out_trade_no: b, out_refund_no: `RF${b}` })).status).toBe(200);
    await shiftClock(0);

    const plain = await download(yesterday(), false);
    const gzipped = await download(yesterday(), true);
    expect(plain.noBill).toBe(false);
    expect(gzipped).toEqual(plain);
    if (plain.noBill) return;
    const bill = parseBill(plain.text, { ...merchant, billDate: yesterday() });
    expect(bill.rows.map((r) => [r.kind, r.outTradeNo])).toEqual([['payment', a], ['payment', b], ['refund', b]]);
    expect(bill.rows[0]).toMatchObject({ totalFee: 1999, goodsName: 'iPhone, 256 GB' });
    expect(bill.rows[2]).toMatchObject({ kind: 'refund', outRefundNo: `RF${b}`, refundFee: 1, refundStatus: 'SUCCESS' });
    expect(bill.summary).toMatchObject({ count: 3, orderFee: 2000, appliedRefundFee: 1 });
  });

  it('a day without transactions is "No Bill Exist"; today is "Bill Creating" (retry later); the future is refused', async () => {
    expect(await download(beijingDate(new Date(Date.now() - 3 * DAY)), true)).toEqual({ noBill: true });
    expect(await client.downloadBill({ billDate: beijingDate(new Date()), gzip: false, maxBytes: 1024 })).toMatchObject({ kind: 'retryable', reason: expect.stringMatching(/Bill Creating/) });
    expect(await client.downloadBill({ billDate: beijingDate(new Date(Date.now() + 2 * DAY)), gzip: false, maxBytes: 1024 })).toMatchObject({ kind: 'fatal', category: 'return-fail' });
  });

  it('SYSTEMERROR, an HTTP 500 and a body over the limit are classified', async () => {
    await shiftClock(-DAY);
    await yesterdayOrder(100);
    await shiftClock(0);
    await sandbox.faults({ systemErrorRate: { downloadbill: 1 } });
    expect(await client.downloadBill({ billDate: yesterday(), gzip: true, maxBytes: 1 << 20 })).toMatchObject({ kind: 'retryable', category: 'system-error' });
    await sandbox.faults({ systemErrorRate: 0, tamper: { downloadbill: 'http-500' } });
    expect(await client.downloadBill({ billDate: yesterday(), gzip: true, maxBytes: 1 << 20 })).toMatchObject({ kind: 'retryable', category: 'http-status' });
    await sandbox.faults({ tamper: 'none' });
    expect(await client.downloadBill({ billDate: yesterday(), gzip: false, maxBytes: 100 })).toMatchObject({ kind: 'fatal', reason: expect.stringMatching(/larger than 100 bytes/) });
    expect(await client.downloadBill({ billDate: yesterday(), gzip: true, maxBytes: 100 })).toMatchObject({ kind: 'fatal', reason: expect.stringMatching(/larger than 100 bytes/) });
  });

  it('injected differences and broken bills', async () => {
    await shiftClock(-DAY);
    const no = await yesterdayOrder(300);
    await shiftClock(0);
    await sandbox.faults({ billTotalFee: { [no]: 301 } });
    const wrong = await download(yesterday(), true);
    expect(!wrong.noBill && parseBill(wrong.text, { ...merchant, billDate: yesterday() }).rows[0]).toMatchObject({ outTradeNo: no, totalFee: 301 });

    for (const [tamper, reason] of [['summary-mismatch', 'summary-mismatch'], ['other-mch-id', 'other-merchant'], ['unknown-layout', 'unknown-layout'], ['truncated', 'truncated']] as const) {
      await sandbox.faults({ billTamper: tamper });
      const data = await download(yesterday(), true);
      if (data.noBill) throw new Error('no bill');
      const error = (() => {
        try {
          parseBill(data.text, { ...merchant, billDate: yesterday() });
        } catch (err) {
          return err;
        }
        return undefined;
      })();
      expect(error, tamper).toBeInstanceOf(BillFormatError);
      expect((error as BillFormatError).reason, tamper).toBe(reason);
    }
  });
});
