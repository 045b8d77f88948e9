import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signFields, verifySignature, type SignType } from '../infra/wechat/sign.js';
import { HOSTILE_XML } from '../infra/wechat/xml-corpus.fixture.js';
import { buildXml } from '../infra/wechat/xml.js';
import { startSandbox, TEST_MERCHANT, type RunningSandbox } from './testing.js';
import { merchantFields, orderNumbers, postXml, signedXml, type WireAnswer } from './wire-client.fixture.js';

// The WeChat endpoints spoken to by hand over HTTP, as any faithful client would.
let sandbox: RunningSandbox;
beforeAll(async () => {
  // the protocol itself; WeChat's 5-minute close rule (on by default) has its own tests
  sandbox = await startSandbox({ faults: { closeRule: false } });
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
const post = (path: string, body?: string | Buffer, method: 'POST' | 'GET' | 'PUT' = 'POST') => postXml(sandbox.url, path, body, method);
const base = merchantFields;
const signed = signedXml;

const unified = (no: string, extra: Record<string, string> = {}) =>
  base({
    body: 'test',
    out_trade_no: no,
    total_fee: '1',
    spbill_create_ip: '127.0.0.1',
    notify_url: 'http://127.0.0.1:9/notify',
    trade_type: 'NATIVE',
    product_id: 'p1',
    ...extra,
  });

const expectFail = (a: Answer, msg: string) => {
  expect(a.status).toBe(200);
  expect(a.fields).toEqual({ return_code: 'FAIL', return_msg: msg });
};

describe('request validation (unsigned return_code=FAIL answers)', () => {
  it.each(['unifiedorder', 'orderquery', 'closeorder'])('/pay/%s refuses other methods: 请使用post方法', async (endpoint) => {
    expectFail(await post(`/pay/${endpoint}`, undefined, 'GET'), '请使用post方法');
    expectFail(await post(`/pay/${endpoint}`, '<xml/>', 'PUT'), '请使用post方法');
  });

  it('refuses an empty body: post数据为空', async () => {
    expectFail(await post('/pay/closeorder'), 'post数据为空');
    expectFail(await post('/pay/closeorder', ''), 'post数据为空');
    expectFail(await post('/pay/closeorder', '  \n'), 'post数据为空');
  });

  const corpus = HOSTILE_XML.filter(([, , reason]) => reason !== 'empty');
  it.each(corpus)('refuses %s: XML格式错误 / 编码格式错误', async (_name, body, reason) => {
    expectFail(await post('/pay/unifiedorder', body), reason === 'not-utf8' ? '编码格式错误' : 'XML格式错误');
  });

  it('refuses a signed request that smuggles a duplicated field', async () => {
    const xml = signed(unified(nextNo(), { total_fee: '1' })).replace('<total_fee>1</total_fee>', '<total_fee>1</total_fee><total_fee>100</total_fee>');
    expectFail(await post('/pay/unifiedorder', xml), 'XML格式错误');
    expect((await sandbox.ledger()).paid).toEqual([]);
  });

  it('refuses bad signatures: 签名错误', async () => {
    const fields = base({ out_trade_no: '000000never' });
    expectFail(await post('/pay/closeorder', buildXml(fields)), '签名错误'); // no sign
    expectFail(await post('/pay/closeorder', signed(fields, 'MD5', 'k'.repeat(32))), '签名错误'); // wrong key
    const tampered = signed(fields).replace('000000never', '000000other');
    expectFail(await post('/pay/closeorder', tampered), '签名错误');
    // HMAC signature without sign_type: the sandbox checks MD5 (the default) and refuses.
    const hmacNoType = buildXml({ ...fields, sign: signFields(fields, KEY, 'HMAC-SHA256') });
    expectFail(await post('/pay/closeorder', hmacNoType), '签名错误');
    // An unknown sign_type never selects an algorithm.
    const bogus = { ...fields, sign_type: 'SHA1' };
    expectFail(await post('/pay/closeorder', buildXml({ ...bogus, sign: signFields(bogus, KEY, 'MD5') })), '签名错误');
    // Unknown extra fields are covered by the signature.
    const extra = signed(fields).replace('</xml>', '<evil>1</evil></xml>');
    expectFail(await post('/pay/closeorder', extra), '签名错误');
  });

  it('refuses an unknown merchant (MCHID不存在) and missing parameters (缺少参数)', async () => {
    expectFail(await post('/pay/closeorder', signed(base({ mch_id: '10000101', out_trade_no: '000000never' }))), 'MCHID不存在');
    expectFail(await post('/pay/closeorder', signed(base())), '缺少参数');
    expectFail(await post('/pay/orderquery', signed(base())), '缺少参数');
    const { nonce_str: _n, ...noNonce } = base({ out_trade_no: '000000never' });
    expectFail(await post('/pay/closeorder', signed(noNonce)), '缺少参数');
    for (const name of ['body', 'out_trade_no', 'total_fee', 'spbill_create_ip', 'notify_url', 'trade_type', 'product_id']) {
      const fields = unified(nextNo());
      delete fields[name];
      expectFail(await post('/pay/unifiedorder', signed(fields)), '缺少参数');
    }
    expectFail(await post('/pay/unifiedorder', signed(unified(nextNo(), { trade_type: 'JSAPI' }))), '缺少参数'); // no openid
  });

  it('refuses malformed values of present fields: invalid <name>', async () => {
    const cases: [Record<string, string>, string][] = [
      [{ total_fee: '0' }, 'invalid total_fee'],
      [{ total_fee: '1.00' }, 'invalid total_fee'],
      [{ out_trade_no: 'abc' }, 'invalid out_trade_no'],
      [{ out_trade_no: 'with space 123' }, 'invalid out_trade_no'],
      [{ notify_url: 'http://127.0.0.1/notify?x=1' }, 'invalid notify_url'],
      [{ trade_type: 'APP' }, 'invalid trade_type'],
      [{ time_expire: '20240230120000' }, 'invalid time_expire'],
      [{ nonce_str: 'x'.repeat(33) }, 'invalid nonce_str'],
    ];
    for (const [extra, msg] of cases) expectFail(await post('/pay/unifiedorder', signed(unified(nextNo(), extra))), msg);
  });
});

describe.each<SignType | undefined>([undefined, 'MD5', 'HMAC-SHA256'])('signed answers (request sign_type %s)', (signType) => {
  const verifyAs = signType ?? 'MD5';

  it('unifiedorder answers like WeChat, signed with the request\'s type, and re-enters', async () => {
    const no = nextNo();
    const a = await post('/pay/unifiedorder', signed(unified(no), signType));
    expect(a.fields).toMatchObject({ return_code: 'SUCCESS', return_msg: 'OK', appid: TEST_MERCHANT.appId, mch_id: TEST_MERCHANT.mchId, result_code: 'SUCCESS', trade_type: 'NATIVE' });
    expect(a.fields.nonce_str).toMatch(/^[A-Za-z0-9]{1,32}$/);
    expect(a.fields.sign).toHaveLength(verifyAs === 'MD5' ? 32 : 64);
    expect(verifySignature(a.fields, KEY, verifyAs)).toBe(true);

    const again = await post('/pay/unifiedorder', signed(unified(no), signType)); // new nonce, same parameters
    expect([again.fields.prepay_id, again.fields.code_url]).toEqual([a.fields.prepay_id, a.fields.code_url]);
    const different = await post('/pay/unifiedorder', signed(unified(no, { body: 'other' }), signType));
    expect(different.fields).toMatchObject({ return_code: 'SUCCESS', result_code: 'FAIL', err_code: 'INVALID_REQUEST', err_code_des: '201 商户订单号重复' });
    expect(verifySignature(different.fields, KEY, verifyAs)).toBe(true);
  });

  it('orderquery and closeorder answer every documented state and err_code, all signed', async () => {
    const no = nextNo();
    await post('/pay/unifiedorder', signed(unified(no, { attach: 'a&b' }), signType));
    const call = async (endpoint: string, extra: Record<string, string>) => {
      const a = await post(`/pay/${endpoint}`, signed(base(extra), signType));
      expect(verifySignature(a.fields, KEY, verifyAs)).toBe(true);
      return a.fields;
    };
    expect(await call('orderquery', { out_trade_no: no })).toMatchObject({ result_code: 'SUCCESS', trade_state: 'NOTPAY', out_trade_no: no });
    expect(await call('orderquery', { out_trade_no: '000000never' })).toMatchObject({ result_code: 'FAIL', err_code: 'ORDERNOTEXIST' });
    expect(await call('closeorder', { out_trade_no: '000000never' })).toMatchObject({ result_code: 'FAIL', err_code: 'ORDERNOTEXIST' });

    const paid = await sandbox.pay(no);
    const tx = String(paid.body.transaction_id);
    const q = await call('orderquery', { out_trade_no: no });
    expect(q).toMatchObject({ trade_state: 'SUCCESS', transaction_id: tx, total_fee: '1', cash_fee: '1', attach: 'a&b', bank_type: 'CFT', trade_type: 'NATIVE' });
    expect(q.time_end).toMatch(/^\d{14}$/);
    // transaction_id wins over a wrong out_trade_no.
    expect(await call('orderquery', { transaction_id: tx, out_trade_no: '000000never' })).toMatchObject({ out_trade_no: no });
    expect(await call('closeorder', { out_trade_no: no })).toMatchObject({ result_code: 'FAIL', err_code: 'ORDERPAID' });
    expect(await call('unifiedorder', { ...unified(no) })).toMatchObject({ result_code: 'FAIL', err_code: 'ORDERPAID' });

    await sandbox.control('POST', '/sandbox/refund', { out_trade_no: no });
    expect(await call('orderquery', { out_trade_no: no })).toMatchObject({ trade_state: 'REFUND', transaction_id: tx });
    expect(await call('closeorder', { out_trade_no: no })).toMatchObject({ err_code: 'ORDERPAID' });
  });

  it('closes, then answers ORDERCLOSED, CLOSED; PAYERROR orders can still be closed', async () => {
    const no = nextNo();
    await post('/pay/unifiedorder', signed(unified(no), signType));
    const close = await post('/pay/closeorder', signed(base({ out_trade_no: no }), signType));
    expect(close.fields).toMatchObject({ return_code: 'SUCCESS', result_code: 'SUCCESS', result_msg: 'OK' });
    expect((await post('/pay/closeorder', signed(base({ out_trade_no: no }), signType))).fields).toMatchObject({ err_code: 'ORDERCLOSED' });
    expect((await post('/pay/orderquery', signed(base({ out_trade_no: no }), signType))).fields).toMatchObject({ trade_state: 'CLOSED' });
    expect((await post('/pay/unifiedorder', signed(unified(no), signType))).fields).toMatchObject({ err_code: 'ORDERCLOSED' });

    const failing = nextNo();
    await post('/pay/unifiedorder', signed(unified(failing), signType));
    expect((await sandbox.control('POST', '/sandbox/pay-error', { out_trade_no: failing })).status).toBe(200);
    expect((await post('/pay/orderquery', signed(base({ out_trade_no: failing }), signType))).fields).toMatchObject({ trade_state: 'PAYERROR' });
    expect((await post('/pay/closeorder', signed(base({ out_trade_no: failing }), signType))).fields).toMatchObject({ result_code: 'SUCCESS' });
  });
});

describe('WeChat data oddities', () => {
  it('accepts bare and CDATA values alike and keeps leading zeros', async () => {
    const no = `000${Date.now()}`;
    const fields = unified(no, { nonce_str: '0012345678' });
    const all = { ...fields, sign: signFields(fields, KEY, 'MD5') };
    // Hand-written: every value bare, no CDATA at all.
    const bare = `<xml>${Object.entries(all).map(([k, v]) => `<${k}>${v.replace(/&/g, '&amp;')}</${k}>`).join('')}</xml>`;
    const a = await post('/pay/unifiedorder', bare);
    // SUCCESS means the signature verified: nonce_str was read as '0012345678', not 12345678.
    expect(a.fields).toMatchObject({ result_code: 'SUCCESS' });
    const stored = (await sandbox.order(no)).body;
    expect(stored).toMatchObject({ out_trade_no: no, request: { out_trade_no: no, total_fee: '1' } });
    expect(stored.request).not.toHaveProperty('nonce_str');
    // Pretty-printed CDATA body, as in WeChat's own examples, re-enters the same order.
    const pretty = buildXml(unifiedSigned(no)).replace(/(<xml>|<\/[a-z_]+>)</g, '$1\n   <');
    expect(pretty).toContain('<xml>\n   <appid>');
    expect((await post('/pay/unifiedorder', pretty)).fields.prepay_id).toBe(a.fields.prepay_id);
  });

  it('the 28-digit transaction_id survives query round trips', async () => {
    const no = nextNo();
    await post('/pay/unifiedorder', signed(unified(no)));
    const tx = String((await sandbox.pay(no)).body.transaction_id);
    expect(tx).toMatch(/^\d{28}$/);
    const q = await post('/pay/orderquery', signed(base({ transaction_id: tx })));
    expect(q.text).toContain(tx);
    expect(q.fields.transaction_id).toBe(tx);
  });
});

function unifiedSigned(no: string): Record<string, string> {
  const fields = unified(no);
  return { ...fields, sign: signFields(fields, KEY, 'MD5') };
}
