import { isBusinessErrCode, type WeChatBusinessError, type WeChatFatal, type WeChatRetryable } from './result.js';
import { verifySignature, type SignType } from './sign.js';

/** A response whose signature, merchant and both result layers said SUCCESS. */
export interface VerifiedSuccess {
  readonly kind: 'verified';
  readonly fields: Readonly<Record<string, string>>;
}

export type Classified = VerifiedSuccess | WeChatBusinessError | WeChatRetryable | WeChatFatal;

export interface Merchant {
  readonly appId: string;
  readonly mchId: string;
  readonly apiKey: string;
  readonly signType: SignType;
}

/**
 * Classify a parsed WeChat response. The order matters: nothing in a `return_code=SUCCESS`
 * body (not even SYSTEMERROR, which would make us retry) is believed before its signature and
 * merchant are checked, so a forged body can at worst be reported as fatal.
 */
export function classifyResponse(fields: Readonly<Record<string, string>>, merchant: Merchant): Classified {
  const returnCode = fields.return_code;
  if (returnCode === 'FAIL') {
    // Unsigned by design; WeChat refused the request itself (签名错误, 缺少参数, …).
    return fatal('return-fail', `return_code=FAIL: ${fields.return_msg ?? '(no return_msg)'}`);
  }
  if (returnCode !== 'SUCCESS') return fatal('malformed', `return_code=${returnCode ?? '(missing)'}`);

  if (fields.sign === undefined || fields.sign === '') return fatal('signature', 'SUCCESS response without sign');
  if (!verifySignature(fields, merchant.apiKey, merchant.signType)) {
    return fatal('signature', `response signature does not verify with ${merchant.signType}`);
  }
  if (fields.appid !== merchant.appId || fields.mch_id !== merchant.mchId) {
    return fatal('merchant-mismatch', `response for appid=${fields.appid ?? '?'} mch_id=${fields.mch_id ?? '?'}`);
  }

  const resultCode = fields.result_code;
  if (resultCode === 'SUCCESS') return { kind: 'verified', fields };
  if (resultCode !== 'FAIL') return fatal('malformed', `result_code=${resultCode ?? '(missing)'}`);
  const errCode = fields.err_code ?? '';
  const errCodeDes = fields.err_code_des ?? '';
  // WeChat's "try again with the same parameters" answers (refunds: the same out_refund_no)
  if (errCode === 'SYSTEMERROR' || errCode === 'BIZERR_NEED_RETRY' || errCode === 'FREQUENCY_LIMITED') {
    return { kind: 'retryable', category: 'system-error', reason: `${errCode}: ${errCodeDes}` };
  }
  if (isBusinessErrCode(errCode)) return { kind: 'error', errCode, errCodeDes };
  return fatal('unknown-err-code', `undocumented err_code=${errCode || '(missing)'}: ${errCodeDes}`);
}

export function fatal(category: WeChatFatal['category'], reason: string): WeChatFatal {
  return { kind: 'fatal', category, reason };
}

export function retryable(category: WeChatRetryable['category'], reason: string): WeChatRetryable {
  return { kind: 'retryable', category, reason };
}
