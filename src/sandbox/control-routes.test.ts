import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WeChatPayClient } from '../infra/wechat/client.js';
import { DEFAULT_FAULTS } from './faults.js';
import { startSandbox, TEST_MERCHANT, type RunningSandbox } from './testing.js';

let sandbox: RunningSandbox;
let client: WeChatPayClient;
beforeAll(async () => {
  // WeChat's 5-minute close rule (on by default) is off here: these tests close orders at once
  sandbox = await startSandbox({ faults: { closeRule: false } });
  client = new WeChatPayClient({ baseUrl: sandbox.url, ...TEST_MERCHANT, signType: 'MD5', timeoutMs: 2_000 });
});
afterEach(async () => {
  await sandbox.reset();
});
afterAll(async () => {
  await client.close();
  await sandbox.close();
});

async function create(no: string): Promise<void> {
  // The notify URL points nowhere: deliveries fail, which these tests do not look at.
  const res = await client.unifiedOrder({ outTradeNo: no, totalFee: 100, body: 'x', productId: 'p', notifyUrl: 'http://127.0.0.1:9/n' });
  expect(res.kind).toBe('ok');
}

describe('control API', () => {
  it('health names the merchant without its key', async () => {
    const health = await sandbox.control('GET', '/sandbox/health');
    expect(health.body).toEqual({ ok: true, appid: TEST_MERCHANT.appId, mch_id: TEST_MERCHANT.mchId, time_scale: 0.001 });
  });

  it('pay refuses unknown, closed and already paid orders with 409', async () => {
    expect(await sandbox.pay('000000never')).toMatchObject({ status: 409, body: { code: 'ORDERNOTEXIST' } });
    await create('000111001');
    expect(await client.closeOrder('000111001')).toMatchObject({ kind: 'ok' });
    expect(await sandbox.pay('000111001')).toMatchObject({ status: 409, body: { code: 'ORDERCLOSED' } });
    await create('000111002');
    expect((await sandbox.pay('000111002')).status).toBe(200);
    expect(await sandbox.pay('000111002')).toMatchObject({ status: 409, body: { code: 'ORDERPAID' } });
    expect((await sandbox.ledger()).paid).toHaveLength(1);
  });

  it('rejects malformed control input with 400', async () => {
    expect((await sandbox.control('POST', '/sandbox/pay', {})).status).toBe(400);
    expect((await sandbox.control('POST', '/sandbox/pay', { out_trade_no: 'x', concurrent: 0 })).status).toBe(400);
    expect((await sandbox.control('POST', '/sandbox/faults', { systemErrorRate: 2 })).status).toBe(400);
    expect((await sandbox.control('POST', '/sandbox/faults', { tamper: 'maybe' })).status).toBe(400);
    expect((await sandbox.control('POST', '/sandbox/faults', { delayMs: { reverse: 1 } })).status).toBe(400); // not an endpoint here
    expect((await sandbox.control('POST', '/sandbox/refund', { out_trade_no: '000333001', refund_fee: 0 })).status).toBe(400);
    expect((await sandbox.control('POST', '/sandbox/faults', { unknown: true })).status).toBe(400);
  });

  it('faults merge per endpoint and reset restores them', async () => {
    const faults = await sandbox.faults({ systemErrorRate: { closeorder: 0.5 }, delayMs: 5, closeRule: true });
    expect(faults).toMatchObject({
      systemErrorRate: { unifiedorder: 0, orderquery: 0, closeorder: 0.5 },
      delayMs: { unifiedorder: 5, orderquery: 5, closeorder: 5 },
      closeRule: true,
    });
    const more = await sandbox.faults({ tamper: { orderquery: 'unsigned' } });
    expect(more.systemErrorRate.closeorder).toBe(0.5);
    expect(more.tamper).toEqual({ unifiedorder: 'none', orderquery: 'unsigned', closeorder: 'none', refund: 'none', refundquery: 'none', downloadbill: 'none' });
    const refundOnly = await sandbox.faults({ delayMs: { refund: 7 }, systemErrorRate: { refundquery: 1 } });
    expect(refundOnly.delayMs).toEqual({ unifiedorder: 5, orderquery: 5, closeorder: 5, refund: 7, refundquery: 5, downloadbill: 5 });
    expect(refundOnly.systemErrorRate).toMatchObject({ closeorder: 0.5, refund: 0, refundquery: 1 });
    await sandbox.reset();
    expect((await sandbox.control('GET', '/sandbox/faults')).body).toEqual({ ...DEFAULT_FAULTS, closeRule: false }); // as started
  });

  it('orders and ledger show what happened; reset forgets it', async () => {
    await create('000222001');
    await create('000222002');
    const paid = await sandbox.pay('000222001');
    await client.closeOrder('000222002');
    const order = await sandbox.order('000222001');
    expect(order.body).toMatchObject({ out_trade_no: '000222001', trade_state: 'SUCCESS', transaction_id: paid.body.transaction_id, total_fee: 100 });
    const ledger = await sandbox.ledger();
    expect(ledger.paid).toMatchObject([{ out_trade_no: '000222001', transaction_id: paid.body.transaction_id, total_fee: 100, via: 'pay' }]);
    expect(ledger.paid[0]?.time_end).toMatch(/^\d{14}$/);
    expect(ledger.closed).toMatchObject([{ out_trade_no: '000222002' }]);

    await sandbox.reset();
    expect((await sandbox.order('000222001')).status).toBe(404);
    expect(await sandbox.ledger()).toEqual({ paid: [], closed: [], notifications: [], refunds: [] });
  });

  it('pay-error and refund move orders through PAYERROR and REFUND', async () => {
    await create('000333001');
    expect(await sandbox.control('POST', '/sandbox/refund', { out_trade_no: '000333001' })).toMatchObject({ status: 409, body: { code: 'ORDERNOTEXIST' } });
    expect((await sandbox.control('POST', '/sandbox/pay-error', { out_trade_no: '000333001' })).body).toMatchObject({ trade_state: 'PAYERROR' });
    expect((await sandbox.pay('000333001')).status).toBe(200); // the buyer tries again and succeeds
    expect((await sandbox.control('POST', '/sandbox/refund', { out_trade_no: '000333001' })).body).toMatchObject({ trade_state: 'REFUND' });
    expect(await client.closeOrder('000333001')).toMatchObject({ kind: 'error', errCode: 'ORDERPAID' });
  });

  it('a refund made elsewhere goes through the refund rules and shows in the order and the ledger', async () => {
    await create('000444001');
    await sandbox.pay('000444001');
    const part = await sandbox.control('POST', '/sandbox/refund', { out_trade_no: '000444001', refund_fee: 30, out_refund_no: 'R000444001-1' });
    expect(part.body).toMatchObject({ trade_state: 'REFUND', refunds: [{ out_refund_no: 'R000444001-1', refund_fee: 30, total_fee: 100, via: 'control' }] });
    const rest = await sandbox.control('POST', '/sandbox/refund', { out_trade_no: '000444001' }); // default: all that is left
    expect(rest.status).toBe(200);
    const refunds = (rest.body.refunds as { refund_fee: number; out_refund_no: string; refund_status: string }[]);
    expect(refunds.map((r) => r.refund_fee)).toEqual([30, 70]);
    expect(refunds[1]?.out_refund_no).toMatch(/^SANDBOX-[0-9a-f]{24}$/);
    expect(['PROCESSING', 'SUCCESS']).toContain(refunds[1]?.refund_status);
    expect(await sandbox.control('POST', '/sandbox/refund', { out_trade_no: '000444001' })).toMatchObject({ status: 409, body: { code: 'ERROR', message: '订单已全额退款' } });
    const ledger = await sandbox.ledger();
    expect(ledger.refunds.map((r) => [r.out_trade_no, r.refund_fee, r.total_fee, r.via])).toEqual([
      ['000444001', 30, 100, 'control'],
      ['000444001', 70, 100, 'control'],
    ]);
    expect(ledger.refunds[0]?.refund_id).toMatch(/^\d{29}$/);
  });
});
