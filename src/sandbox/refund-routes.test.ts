import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { verifySignature, type SignType } from '../infra/wechat/sign.js';
import { beijingDateTime } from './endpoints.js';
import { eventually, startSandbox, TEST_MERCHANT, type RunningSandbox } from './testing.js';
import { merchantFields, orderNumbers, postXml, signedXml, type WireAnswer } from './wire-client.fixture.js';

// /secapi/pay/refund and /pay/refundquery spoken to by hand over HTTP, as any faithful client would.
let sandbox: RunningSandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ faults: { closeRule: false } }); // time scale 0.001: refunds land after 10 ms
});
afterEach(async () => {
  await sandbox.reset();
});
afterAll(async () => {
  await sandbox.close();
});

const KEY = TEST_MERCHANT.apiKey;
const nextNo = orderNumbers();
type Answer = WireAnswer;
const post = (on: RunningSandbox, path: string, body: string, method: 'POST' | 'GET' = 'POST') => postXml(on.url, path, method === 'POST' ? body : undefined, method);
const base = merchantFields;
const signed = (fields: Record<string, string>, signType?: SignType) => signedXml(fields, signType);

/** An order of `fee` fen, paid by the buyer when `paid`; answers its out_trade_no and transaction_id. */
async function order(on: RunningSandbox, fee = 100, paid = true): Promise<{ no: string; tx: string }> {
  const no = nextNo();
  const fields = base({ body: 'x', out_trade_no: no, total_fee: String(fee), spbill_create_ip: '127.0.0.1', notify_url: 'http://127.0.0.1:9/n', trade_type: 'NATIVE', product_id: 'p' });
  expect((await post(on, '/pay/unifiedorder', signed(fields))).fields.result_code).toBe('SUCCESS');
  if (!paid) return { no, tx: '' };
  const pay = await on.pay(no);
  expect(pay.status).toBe(200);
  return { no, tx: String(pay.body.transaction_id) };
}

const refundFields = (extra: Record<string, string>) => base({ total_fee: '100', ...extra });
const refund = (extra: Record<string, string>, signType?: SignType, on = sandbox) => post(on, '/secapi/pay/refund', signed(refundFields(extra), signType));
const refundQuery = (extra: Record<string, string>, signType?: SignType, on = sandbox) => post(on, '/pay/refundquery', signed(base(extra), signType));
const orderQuery = (no: string) => post(sandbox, '/pay/orderquery', signed(base({ out_trade_no: no })));

const expectFail = (a: Answer, msg: string) => expect(a.fields).toEqual({ return_code: 'FAIL', return_msg: msg });
const failWith = (errCode: string, errCodeDes?: string) => ({
  return_code: 'SUCCESS',
  result_code: 'FAIL',
  err_code: errCode,
  ...(errCodeDes === undefined ? {} : { err_code_des: errCodeDes }),
});

describe.each<SignType | undefined>([undefined, 'MD5', 'HMAC-SHA256'])('refund and refundquery (request sign_type %s)', (signType) => {
  const verifyAs = signType ?? 'MD5';
  const verified = (a: Answer) => {
    expect(a.status).toBe(200);
    expect(verifySignature(a.fields, KEY, verifyAs)).toBe(true);
    return a.fields;
  };

  it('refunds a paid order with a signed answer; the order becomes REFUND', async () => {
    const { no, tx } = await order(sandbox);
    const a = verified(await refund({ out_trade_no: no, out_refund_no: `R${no}`, refund_fee: '40', refund_desc: '商品已售完' }, signType));
    expect(a).toMatchObject({
      return_code: 'SUCCESS',
      return_msg: 'OK',
      appid: TEST_MERCHANT.appId,
      mch_id: TEST_MERCHANT.mchId,
      result_code: 'SUCCESS',
      transaction_id: tx,
      out_trade_no: no,
      out_refund_no: `R${no}`,
      refund_fee: '40',
      total_fee: '100',
      cash_fee: '100',
      cash_refund_fee: '40',
    });
    expect(a.refund_id).toMatch(/^\d{29}$/);
    expect(a.sign).toHaveLength(verifyAs === 'MD5' ? 32 : 64);
    expect((await orderQuery(no)).fields).toMatchObject({ trade_state: 'REFUND', transaction_id: tx });
    // still paid for the other endpoints
    expect((await post(sandbox, '/pay/closeorder', signed(base({ out_trade_no: no })))).fields).toMatchObject(failWith('ORDERPAID'));
  });

  it('is idempotent on out_refund_no; other amounts under the same number are refused', async () => {
    const { no, tx } = await order(sandbox);
    const first = verified(await refund({ out_trade_no: no, out_refund_no: `R${no}`, refund_fee: '40' }, signType));
    // by transaction_id this time, new nonce: the same refund
    const again = verified(await refund({ transaction_id: tx, out_refund_no: `R${no}`, refund_fee: '40' }, signType));
    expect(again).toMatchObject({ result_code: 'SUCCESS', refund_id: first.refund_id, refund_fee: '40', out_trade_no: no });
    const other = verified(await refund({ out_trade_no: no, out_refund_no: `R${no}`, refund_fee: '41' }, signType));
    expect(other).toMatchObject(failWith('REFUND_FEE_MISMATCH', '订单金额或退款金额与之前请求不一致，请核实后再试'));
    const ledger = await sandbox.ledger();
    expect(ledger.refunds).toHaveLength(1);
    expect(ledger.refunds[0]).toMatchObject({ out_trade_no: no, out_refund_no: `R${no}`, refund_id: first.refund_id, refund_fee: 40, total_fee: 100, via: 'refund' });
    expect(Date.parse(ledger.refunds[0]?.requested_at ?? '')).not.toBeNaN();
  });

  it('refundquery finds the refund by each of its four keys, signed', async () => {
    const { no, tx } = await order(sandbox);
    const r = verified(await refund({ out_trade_no: no, out_refund_no: `R${no}`, refund_fee: '100' }, signType));
    const keys: Record<string, string>[] = [{ refund_id: r.refund_id ?? '' }, { out_refund_no: `R${no}` }, { transaction_id: tx }, { out_trade_no: no }];
    for (const key of keys) {
      const q = verified(await refundQuery(key, signType));
      expect(q).toMatchObject({
        result_code: 'SUCCESS',
        transaction_id: tx,
        out_trade_no: no,
        total_fee: '100',
        cash_fee: '100',
        refund_fee: '100',
        refund_count: '1',
        out_refund_no_0: `R${no}`,
        refund_id_0: r.refund_id,
        refund_fee_0: '100',
        refund_channel_0: 'ORIGINAL',
        refund_recv_accout_0: '支付用户零钱',
      });
      expect(['PROCESSING', 'SUCCESS']).toContain(q.refund_status_0);
      expect(q).not.toHaveProperty('refund_id_1');
    }
    expect(verified(await refundQuery({ out_refund_no: 'never' }, signType))).toMatchObject(failWith('REFUNDNOTEXIST', '退款订单查询失败'));
  });
});

describe('refund amounts', () => {
  it('partial refunds up to the order amount, then INVALID_REQUEST / ERROR as WeChat answers', async () => {
    const { no, tx } = await order(sandbox);
    const ok1 = await refund({ out_trade_no: no, out_refund_no: 'R1', refund_fee: '30' });
    expect((await refund({ out_trade_no: no, out_refund_no: 'R2', refund_fee: '50' })).fields.result_code).toBe('SUCCESS');
    // 30 + 50 + 30 > 100
    expect((await refund({ out_trade_no: no, out_refund_no: 'R3', refund_fee: '30' })).fields).toMatchObject(failWith('INVALID_REQUEST', 'refund_fee大于可退金额'));
    expect((await refund({ out_trade_no: no, out_refund_no: 'R3', refund_fee: '20' })).fields.result_code).toBe('SUCCESS'); // a refused number can be used again
    expect((await refund({ out_trade_no: no, out_refund_no: 'R4', refund_fee: '1' })).fields).toMatchObject(failWith('ERROR', '订单已全额退款'));
    // a retry of an earlier refund still answers that refund
    expect((await refund({ out_trade_no: no, out_refund_no: 'R1', refund_fee: '30' })).fields).toMatchObject({ result_code: 'SUCCESS', refund_id: ok1.fields.refund_id });

    const q = (await refundQuery({ transaction_id: tx })).fields;
    expect(q).toMatchObject({ refund_count: '3', refund_fee: '100', out_refund_no_0: 'R1', refund_fee_0: '30', out_refund_no_1: 'R2', refund_fee_1: '50', out_refund_no_2: 'R3', refund_fee_2: '20' });
    expect(q).not.toHaveProperty('total_refund_count');
    expect((await sandbox.ledger()).refunds.map((r) => [r.out_refund_no, r.refund_fee])).toEqual([
      ['R1', 30],
      ['R2', 50],
      ['R3', 20],
    ]);
  });

  it('total_fee must be the order amount: REFUND_FEE_MISMATCH; refund_fee above total_fee: invalid refund_fee', async () => {
    const { no } = await order(sandbox);
    expect((await refund({ out_trade_no: no, out_refund_no: 'R1', total_fee: '99', refund_fee: '1' })).fields).toMatchObject(failWith('REFUND_FEE_MISMATCH'));
    expectFail(await refund({ out_trade_no: no, out_refund_no: 'R1', refund_fee: '101' }), 'invalid refund_fee');
    expectFail(await refund({ out_trade_no: no, out_refund_no: 'R1', refund_fee: '0' }), 'invalid refund_fee');
    expect((await sandbox.ledger()).refunds).toEqual([]);
    expect((await orderQuery(no)).fields.trade_state).toBe('SUCCESS');
  });

  it('an out_refund_no already used for another order is refused', async () => {
    const a = await order(sandbox);
    const b = await order(sandbox);
    expect((await refund({ out_trade_no: a.no, out_refund_no: 'SHARED', refund_fee: '10' })).fields.result_code).toBe('SUCCESS');
    expect((await refund({ out_trade_no: b.no, out_refund_no: 'SHARED', refund_fee: '10' })).fields).toMatchObject(failWith('INVALID_REQUEST'));
    expect((await sandbox.ledger()).refunds).toHaveLength(1);
  });
});

describe('orders that cannot be refunded', () => {
  it('unknown and never-paid orders answer ORDERNOTEXIST and refund nothing', async () => {
    const unpaid = await order(sandbox, 100, false);
    expect((await refund({ out_trade_no: unpaid.no, out_refund_no: 'R1', refund_fee: '1' })).fields).toMatchObject(failWith('ORDERNOTEXIST', '订单未支付，不能发起退款'));

    const failed = await order(sandbox, 100, false);
    expect((await sandbox.control('POST', '/sandbox/pay-error', { out_trade_no: failed.no })).status).toBe(200);
    expect((await refund({ out_trade_no: failed.no, out_refund_no: 'R2', refund_fee: '1' })).fields).toMatchObject(failWith('ORDERNOTEXIST'));

    const closed = await order(sandbox, 100, false);
    expect((await post(sandbox, '/pay/closeorder', signed(base({ out_trade_no: closed.no })))).fields.result_code).toBe('SUCCESS');
    expect((await refund({ out_trade_no: closed.no, out_refund_no: 'R3', refund_fee: '1' })).fields).toMatchObject(failWith('ORDERNOTEXIST'));

    expect((await refund({ out_trade_no: '000000never', out_refund_no: 'R4', refund_fee: '1' })).fields).toMatchObject(failWith('ORDERNOTEXIST', '订单不存在'));
    expect((await refund({ transaction_id: '4200000000000000000000000000', out_refund_no: 'R5', refund_fee: '1' })).fields).toMatchObject(failWith('ORDERNOTEXIST'));
    expect((await sandbox.ledger()).refunds).toEqual([]);
    expect((await orderQuery(unpaid.no)).fields.trade_state).toBe('NOTPAY');
  });

  it('refundquery answers REFUNDNOTEXIST for orders without refunds and unknown keys', async () => {
    const paid = await order(sandbox);
    const unpaid = await order(sandbox, 100, false);
    const keys: Record<string, string>[] = [
      { out_trade_no: paid.no },
      { transaction_id: paid.tx },
      { out_trade_no: unpaid.no },
      { out_trade_no: '000000never' },
      { refund_id: '50300000000000000000000000000' },
      { out_refund_no: 'never' },
    ];
    for (const key of keys) {
      expect((await refundQuery(key)).fields).toMatchObject(failWith('REFUNDNOTEXIST', '退款订单查询失败'));
    }
  });
});

describe('refundquery', () => {
  it('looks up by refund_id > out_refund_no > transaction_id > out_trade_no', async () => {
    const { no } = await order(sandbox);
    const r1 = (await refund({ out_trade_no: no, out_refund_no: 'R1', refund_fee: '10' })).fields;
    const r2 = (await refund({ out_trade_no: no, out_refund_no: 'R2', refund_fee: '20' })).fields;
    expect((await refundQuery({ refund_id: r2.refund_id ?? '', out_refund_no: 'R1', out_trade_no: no })).fields).toMatchObject({ refund_count: '1', out_refund_no_0: 'R2', refund_id_0: r2.refund_id });
    expect((await refundQuery({ out_refund_no: 'R1', out_trade_no: no })).fields).toMatchObject({ refund_count: '1', out_refund_no_0: 'R1', refund_id_0: r1.refund_id });
    expect((await refundQuery({ transaction_id: '4200000000000000000000000000', out_trade_no: no })).fields).toMatchObject(failWith('REFUNDNOTEXIST'));
  });

  it('answers an order\'s refunds 10 at a time; offset pages; past the end is PARAM_ERROR', async () => {
    const { no } = await order(sandbox, 20);
    for (let i = 0; i < 12; i += 1) {
      const a = await refund({ out_trade_no: no, out_refund_no: `R${String(i).padStart(2, '0')}`, total_fee: '20', refund_fee: '1' });
      expect(a.fields.result_code).toBe('SUCCESS');
    }
    const first = (await refundQuery({ out_trade_no: no })).fields;
    expect(first).toMatchObject({ refund_count: '10', total_refund_count: '12', refund_fee: '10', out_refund_no_0: 'R00', out_refund_no_9: 'R09' });
    expect(first).not.toHaveProperty('out_refund_no_10');
    const rest = (await refundQuery({ out_trade_no: no, offset: '10' })).fields;
    expect(rest).toMatchObject({ refund_count: '2', total_refund_count: '12', out_refund_no_0: 'R10', out_refund_no_1: 'R11' });
    expect((await refundQuery({ out_trade_no: no, offset: '12' })).fields).toMatchObject(failWith('PARAM_ERROR'));
    expectFail(await refundQuery({ out_trade_no: no, offset: '-1' }), 'invalid offset');
  });
});

describe('refund request validation (unsigned return_code=FAIL answers)', () => {
  it('answers only POST, at WeChat\'s paths', async () => {
    expectFail(await post(sandbox, '/secapi/pay/refund', '', 'GET'), '请使用post方法');
    expectFail(await post(sandbox, '/pay/refundquery', '', 'GET'), '请使用post方法');
    expect((await request(`${sandbox.url}/pay/refund`, { method: 'POST', body: '<xml/>' })).statusCode).toBe(404); // not XML: no postXml
  });

  it('refuses missing and malformed parameters', async () => {
    const { no } = await order(sandbox);
    const full = { out_trade_no: no, out_refund_no: 'R1', refund_fee: '1' };
    for (const name of ['out_refund_no', 'total_fee', 'refund_fee'] as const) {
      const fields = refundFields(full);
      delete fields[name];
      expectFail(await post(sandbox, '/secapi/pay/refund', signed(fields)), '缺少参数');
    }
    expectFail(await refund({ out_refund_no: 'R1', refund_fee: '1' }), '缺少参数'); // neither transaction_id nor out_trade_no
    expectFail(await refundQuery({}), '缺少参数');
    const cases: [Record<string, string>, string][] = [
      [{ out_refund_no: 'x'.repeat(65) }, 'invalid out_refund_no'],
      [{ out_refund_no: 'with space' }, 'invalid out_refund_no'],
      [{ total_fee: '1.00' }, 'invalid total_fee'],
      [{ refund_fee: '-1' }, 'invalid refund_fee'],
      [{ refund_fee_type: 'USD' }, 'invalid refund_fee_type'],
      [{ refund_desc: '退'.repeat(81) }, 'invalid refund_desc'],
      [{ refund_account: 'ELSEWHERE' }, 'invalid refund_account'],
      [{ notify_url: 'http://127.0.0.1/refund?x=1' }, 'invalid notify_url'],
    ];
    for (const [extra, msg] of cases) expectFail(await refund({ ...full, ...extra }), msg);
    // every character WeChat allows in out_refund_no
    expect((await refund({ ...full, out_refund_no: 'aZ09_-|*@' })).fields.result_code).toBe('SUCCESS');
    expect((await sandbox.ledger()).refunds).toHaveLength(1);
  });

  it('checks the signature like the other endpoints', async () => {
    const { no } = await order(sandbox);
    const xml = signed(refundFields({ out_trade_no: no, out_refund_no: 'R1', refund_fee: '1' })).replace('<refund_fee>1</refund_fee>', '<refund_fee>100</refund_fee>');
    expectFail(await post(sandbox, '/secapi/pay/refund', xml), '签名错误');
    expect((await sandbox.ledger()).refunds).toEqual([]);
  });
});

describe('refund faults', () => {
  it('systemErrorRate answers SYSTEMERROR and refunds nothing; a retry with the same out_refund_no works', async () => {
    const { no } = await order(sandbox);
    await sandbox.faults({ systemErrorRate: { refund: 1, refundquery: 1 } });
    const a = await refund({ out_trade_no: no, out_refund_no: 'R1', refund_fee: '10' });
    expect(a.fields).toMatchObject(failWith('SYSTEMERROR', '系统错误'));
    expect(verifySignature(a.fields, KEY, 'MD5')).toBe(true);
    expect((await refundQuery({ out_trade_no: no })).fields).toMatchObject(failWith('SYSTEMERROR'));
    expect((await sandbox.ledger()).refunds).toEqual([]);
    expect((await orderQuery(no)).fields.trade_state).toBe('SUCCESS'); // orderquery has no fault
    await sandbox.faults({ systemErrorRate: 0 });
    expect((await refund({ out_trade_no: no, out_refund_no: 'R1', refund_fee: '10' })).fields.result_code).toBe('SUCCESS');
  });

  it('a dropped or tampered answer still refunded: the retry gets the same refund', async () => {
    const { no } = await order(sandbox);
    await sandbox.faults({ dropRate: { refund: 1 } });
    await expect(refund({ out_trade_no: no, out_refund_no: 'R1', refund_fee: '10' })).rejects.toThrow();
    await sandbox.faults({ dropRate: 0, tamper: { refund: 'bad-signature' } });
    const tampered = await refund({ out_trade_no: no, out_refund_no: 'R1', refund_fee: '10' });
    expect(verifySignature(tampered.fields, KEY, 'MD5')).toBe(false);
    await sandbox.faults({ tamper: 'none' });
    const retry = await refund({ out_trade_no: no, out_refund_no: 'R1', refund_fee: '10' });
    expect(retry.fields).toMatchObject({ result_code: 'SUCCESS', refund_id: tampered.fields.refund_id });
    const ledger = await sandbox.ledger();
    expect(ledger.refunds.map((r) => r.refund_id)).toEqual([retry.fields.refund_id]);
  });

  it('delayMs holds the refundquery answer', async () => {
    const { no } = await order(sandbox);
    await refund({ out_trade_no: no, out_refund_no: 'R1', refund_fee: '10' });
    await sandbox.faults({ delayMs: { refundquery: 300 } });
    const started = Date.now();
    expect((await refundQuery({ out_refund_no: 'R1' })).fields.result_code).toBe('SUCCESS');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });
});

describe('refunds are asynchronous', () => {
  let slow: RunningSandbox;
  beforeAll(async () => {
    slow = await startSandbox({ timeScale: 0.2, faults: { closeRule: false } }); // 10 s × 0.2 = 2 s
  });
  afterAll(async () => {
    await slow.close();
  });

  it('PROCESSING until REFUND_DELAY_MS × time scale after the request, then SUCCESS with its time', async () => {
    const { no } = await order(slow);
    const r = await refund({ out_trade_no: no, out_refund_no: 'R1', refund_fee: '100' }, 'HMAC-SHA256', slow);
    expect(r.fields.result_code).toBe('SUCCESS');
    const processing = (await refundQuery({ out_refund_no: 'R1' }, 'HMAC-SHA256', slow)).fields;
    expect(processing).toMatchObject({ result_code: 'SUCCESS', refund_status_0: 'PROCESSING' });
    expect(processing).not.toHaveProperty('refund_success_time_0');
    expect((await slow.order(no)).body).toMatchObject({ trade_state: 'REFUND', refunds: [{ out_refund_no: 'R1', refund_status: 'PROCESSING' }] });

    const done = await eventually(async () => {
      const q = (await refundQuery({ out_trade_no: no }, 'HMAC-SHA256', slow)).fields;
      return q.refund_status_0 === 'SUCCESS' ? q : undefined;
    }, 10_000, 100);
    const requestedAt = Date.parse((await slow.ledger()).refunds[0]?.requested_at ?? '');
    expect(done.refund_success_time_0).toBe(beijingDateTime(new Date(requestedAt + 2_000)));
    expect(done.refund_success_time_0).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    const view = (await slow.order(no)).body;
    expect(view).toMatchObject({ refunds: [{ refund_status: 'SUCCESS', success_time: new Date(requestedAt + 2_000).toISOString() }] });
  });
});
