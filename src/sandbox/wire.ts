import { gzipSync } from 'node:zlib';
import { nonceStr, signFields, type SignType } from '../infra/wechat/sign.js';
import { buildXml } from '../infra/wechat/xml.js';
import type { Tamper } from './faults.js';

/**
 * How the sandbox answers on the wire, in WeChat's two layers.
 *
 * Requests WeChat cannot attribute to a merchant (wrong method, empty or malformed body, unknown
 * mch_id, bad signature, missing parameters, malformed values) get the unsigned
 * `return_code=FAIL` answer with a `return_msg`, as WeChat does for 签名错误 and 缺少参数; the
 * documented err_code names of those cases appear only in this table. Authentic requests get
 * `return_code=SUCCESS`, a `result_code`, and a signature made with the request's sign type.
 */
export const RETURN_MSG = {
  REQUIRE_POST_METHOD: '请使用post方法',
  POST_DATA_EMPTY: 'post数据为空',
  XML_FORMAT_ERROR: 'XML格式错误',
  NOT_UTF8: '编码格式错误',
  MCHID_NOT_EXIST: 'MCHID不存在',
  SIGNERROR: '签名错误',
  LACK_PARAMS: '缺少参数',
} as const;

export type Reply =
  | { readonly kind: 'protocol-fail'; readonly returnMsg: string }
  | { readonly kind: 'signed'; readonly fields: Readonly<Record<string, string>> }
  /** downloadbill's answer: the bill itself, not XML and not signed (gzip when asked) */
  | { readonly kind: 'bill'; readonly text: string; readonly gzip: boolean };

export const protocolFail = (returnMsg: string): Reply => ({ kind: 'protocol-fail', returnMsg });
/** Malformed value of a present field; real WeChat answers e.g. "invalid total_fee". */
export const invalidParam = (name: string): Reply => protocolFail(`invalid ${name}`);
export const ok = (fields: Record<string, string | undefined> = {}): Reply => ({
  kind: 'signed',
  fields: { result_code: 'SUCCESS', ...compact(fields) },
});
export const businessError = (errCode: string, errCodeDes: string): Reply => ({
  kind: 'signed',
  fields: { result_code: 'FAIL', err_code: errCode, err_code_des: errCodeDes },
});

export interface WireAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string | Buffer;
}

export interface Signer {
  readonly appId: string;
  readonly mchId: string;
  readonly apiKey: string;
  readonly signType: SignType;
}

const FORGED_KEY = 'forgedforgedforgedforgedforged00';

/** Render a reply, spoiled as the `tamper` fault says. */
export function render(reply: Reply, signer: Signer, tamper: Tamper): WireAnswer {
  if (tamper === 'http-500') return { status: 500, contentType: 'text/html', body: '<html><body>500 Internal Server Error</body></html>' };
  if (tamper === 'non-xml') return { status: 200, contentType: 'text/plain', body: 'upstream connect error or disconnect/reset before headers' };
  if (reply.kind === 'protocol-fail') {
    return xml({ return_code: 'FAIL', return_msg: reply.returnMsg });
  }
  if (reply.kind === 'bill') {
    // nothing to sign or spoil in a bill: its own faults (billTamper) shaped the text
    return reply.gzip
      ? { status: 200, contentType: 'application/octet-stream', body: gzipSync(Buffer.from(reply.text, 'utf8')) }
      : { status: 200, contentType: 'text/plain; charset=utf-8', body: reply.text };
  }
  const fields: Record<string, string> = {
    return_code: 'SUCCESS',
    return_msg: 'OK',
    appid: tamper === 'other-appid' ? 'wx0000000000000000' : signer.appId,
    mch_id: tamper === 'other-mch-id' ? '1999999999' : signer.mchId,
    nonce_str: nonceStr(),
    ...reply.fields,
  };
  if (tamper !== 'unsigned') {
    fields.sign = signFields(fields, tamper === 'bad-signature' ? FORGED_KEY : signer.apiKey, signer.signType);
  }
  return xml(fields);
}

function xml(fields: Record<string, string>): WireAnswer {
  return { status: 200, contentType: 'text/xml; charset=utf-8', body: buildXml(fields) };
}

export function compact(fields: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== '') out[k] = v;
  return out;
}
