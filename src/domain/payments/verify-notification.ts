import { verifySignature } from '../../infra/wechat/sign.js';
import type { Config } from '../../config/env.js';

export type NotificationCheck = { ok: true; outTradeNo: string } | { ok: false; reason: string };

/**
 * Checks a payment notification's fields (from the notify endpoint or from RabbitMQ): a valid
 * signature with the pinned sign type (a message never chooses it), our appid and mch_id, and
 * the fields the payment path needs. The amount is checked later against the order.
 */
export function verifyNotification(fields: Readonly<Record<string, string>>, wechat: Config['wechat']): NotificationCheck {
  if (fields.return_code !== 'SUCCESS') return { ok: false, reason: `return_code is ${fields.return_code ?? 'missing'}` };
  if (!fields.sign) return { ok: false, reason: 'unsigned notification' };
  if (fields.sign_type !== undefined && fields.sign_type !== wechat.signType) {
    return { ok: false, reason: `sign_type ${fields.sign_type} is not the configured ${wechat.signType}` };
  }
  if (!verifySignature(fields, wechat.apiKey, wechat.signType)) return { ok: false, reason: 'signature mismatch' };
  if (fields.appid !== wechat.appId) return { ok: false, reason: 'appid is not ours' };
  if (fields.mch_id !== wechat.mchId) return { ok: false, reason: 'mch_id is not ours' };
  const outTradeNo = fields.out_trade_no;
  if (!outTradeNo || !/^[0-9A-Za-z_\-|*]{1,32}$/.test(outTradeNo)) return { ok: false, reason: 'out_trade_no missing or malformed' };
  if (fields.result_code === 'SUCCESS') {
    if (!fields.transaction_id || !/^\d{1,32}$/.test(fields.transaction_id)) return { ok: false, reason: 'transaction_id missing or malformed' };
    if (!fields.total_fee || !/^\d{1,15}$/.test(fields.total_fee)) return { ok: false, reason: 'total_fee missing or not an integer' };
  }
  return { ok: true, outTradeNo };
}
