import { request } from 'undici';
import { nonceStr, signFields, type SignType } from '../infra/wechat/sign.js';
import { buildXml, parseWeChatXml } from '../infra/wechat/xml.js';
import { TEST_MERCHANT } from './testing.js';

/**
 * For tests that speak WeChat Pay's wire protocol to the sandbox by hand, as any faithful client
 * would: raw XML posts, the merchant's fields, signing.
 */

export interface WireAnswer {
  readonly status: number;
  readonly text: string;
  readonly fields: Record<string, string>;
}

export async function postXml(baseUrl: string, path: string, body?: string | Buffer, method: 'POST' | 'GET' | 'PUT' = 'POST'): Promise<WireAnswer> {
  const res = await request(baseUrl + path, { method, headers: { 'content-type': 'text/xml' }, ...(body === undefined ? {} : { body }) });
  const text = await res.body.text();
  return { status: res.statusCode, text, fields: parseWeChatXml(text) };
}

/** The test merchant's appid, mch_id and a fresh nonce, plus the request's own fields. */
export const merchantFields = (extra: Record<string, string> = {}): Record<string, string> => ({
  appid: TEST_MERCHANT.appId,
  mch_id: TEST_MERCHANT.mchId,
  nonce_str: nonceStr(),
  ...extra,
});

/** Sign as a client would; `signType` undefined means: sign MD5 and send no sign_type. */
export function signedXml(fields: Record<string, string>, signType?: SignType, key: string = TEST_MERCHANT.apiKey): string {
  const all = signType ? { ...fields, sign_type: signType } : fields;
  return buildXml({ ...all, sign: signFields(all, key, signType ?? 'MD5') });
}

/** Distinct out_trade_no values (digits, leading zero kept) for one test file. */
export function orderNumbers(): () => string {
  let seq = 0;
  return () => `0${Date.now()}${String((seq += 1)).padStart(3, '0')}`;
}
