/**
 * What a WeChat Pay call can come back with. The client classifies; the caller decides:
 *
 * - `ok`        the business call succeeded (typed data per call);
 * - `error`     WeChat answered authentically with a documented business `err_code`
 *               (ORDERPAID, ORDERCLOSED, ORDERNOTEXIST, INVALID_REQUEST …);
 * - `retryable` nothing trustworthy came back and trying again later may help (SYSTEMERROR,
 *               timeouts, connection errors, HTTP 5xx, bodies that are not WeChat XML);
 * - `fatal`     something is wrong that retrying will not fix: a bad or missing response
 *               signature, another merchant's answer, `return_code=FAIL` (our request was
 *               refused: 签名错误, 缺少参数 …), an undocumented err_code, a malformed answer.
 */
import type { SignType } from './sign.js';

/** Documented `err_code`s other than SYSTEMERROR (which is `retryable`). */
export const BUSINESS_ERR_CODES = [
  'ORDERPAID',
  'ORDERCLOSED',
  'ORDERNOTEXIST',
  'INVALID_REQUEST',
  'NOAUTH',
  'NOTENOUGH',
  'APPID_NOT_EXIST',
  'MCHID_NOT_EXIST',
  'APPID_MCHID_NOT_MATCH',
  'LACK_PARAMS',
  'OUT_TRADE_NO_USED',
  'SIGNERROR',
  'XML_FORMAT_ERROR',
  'REQUIRE_POST_METHOD',
  'POST_DATA_EMPTY',
  'NOT_UTF8',
  // refund / refundquery
  'ERROR',
  'PARAM_ERROR',
  'TRADE_OVERDUE',
  'USER_ACCOUNT_ABNORMAL',
  'INVALID_REQ_TOO_MUCH',
  'INVALID_TRANSACTIONID',
  'REFUNDNOTEXIST',
] as const;
export type WeChatErrCode = (typeof BUSINESS_ERR_CODES)[number];

export function isBusinessErrCode(value: string): value is WeChatErrCode {
  return (BUSINESS_ERR_CODES as readonly string[]).includes(value);
}

export type RetryableCategory = 'system-error' | 'timeout' | 'connection' | 'http-status' | 'bad-body';
export type FatalCategory =
  | 'signature' // response unsigned or wrongly signed
  | 'merchant-mismatch' // signed, but appid/mch_id (or the order asked about) is not ours
  | 'return-fail' // return_code=FAIL: WeChat refused the request itself
  | 'unknown-err-code'
  | 'malformed' // well-formed XML that is not a sensible answer
  | 'http-status' // 4xx: wrong URL or a proxy in the way
  | 'invalid-request'; // refused locally before sending

export interface WeChatOk<T> {
  readonly kind: 'ok';
  readonly data: T;
}
export interface WeChatBusinessError {
  readonly kind: 'error';
  readonly errCode: WeChatErrCode;
  readonly errCodeDes: string;
}
export interface WeChatRetryable {
  readonly kind: 'retryable';
  readonly category: RetryableCategory;
  readonly reason: string;
}
export interface WeChatFatal {
  readonly kind: 'fatal';
  readonly category: FatalCategory;
  readonly reason: string;
}
export type WeChatResult<T> = WeChatOk<T> | WeChatBusinessError | WeChatRetryable | WeChatFatal;
export type WeChatResultKind = WeChatResult<unknown>['kind'];

export type TradeType = 'NATIVE' | 'JSAPI';
export const TRADE_STATES = ['SUCCESS', 'REFUND', 'NOTPAY', 'CLOSED', 'REVOKED', 'USERPAYING', 'PAYERROR', 'ACCEPT'] as const;
export type TradeState = (typeof TRADE_STATES)[number];

export interface UnifiedOrderData {
  readonly prepayId: string;
  /** Present for NATIVE: what the QR code encodes. */
  readonly codeUrl?: string;
  readonly tradeType: TradeType;
}

export interface OrderQueryData {
  readonly tradeState: TradeState;
  readonly tradeStateDesc?: string;
  readonly outTradeNo?: string;
  /** 28 digits; always a string (it does not fit a double). */
  readonly transactionId?: string;
  /** Fen; present (and checked) when the order is SUCCESS or REFUND. */
  readonly totalFee?: number;
  readonly cashFee?: number;
  /** `yyyyMMddHHmmss` Beijing time, as sent. */
  readonly timeEnd?: string;
  readonly openid?: string;
  readonly attach?: string;
  /** Every verified field of the response, for persistence and review. */
  readonly fields: Readonly<Record<string, string>>;
}

export type CloseOrderData = Readonly<Record<string, never>>;

export interface RefundParams {
  readonly outTradeNo: string;
  readonly transactionId?: string;
  /** ours, deterministic per refund: sending it again never refunds twice */
  readonly outRefundNo: string;
  readonly totalFee: number;
  readonly refundFee: number;
  readonly refundDesc?: string;
}

export interface RefundData {
  readonly refundId: string;
  readonly refundFee: number;
  readonly fields: Readonly<Record<string, string>>;
}

export type RefundStatus = 'PROCESSING' | 'SUCCESS' | 'REFUNDCLOSE' | 'CHANGE';

export interface RefundQueryData {
  readonly status: RefundStatus;
  readonly refundId?: string;
  readonly refundFee: number;
  /** `yyyy-MM-dd HH:mm:ss` Beijing time, as sent, once SUCCESS */
  readonly successTime?: string;
  readonly fields: Readonly<Record<string, string>>;
}

/**
 * `/pay/downloadbill`: the bill's text as sent (not signed: WeChat signs no bill), or `noBill`
 * when WeChat answered "No Bill Exist" (a day without transactions).
 */
export type DownloadBillData = { readonly noBill: false; readonly text: string; readonly bytes: number } | { readonly noBill: true };
export type DownloadBillResult = WeChatResult<DownloadBillData>;

export interface DownloadBillParams {
  /** yyyyMMdd, a Beijing day */
  readonly billDate: string;
  /** ask for `tar_type=GZIP` (the body is then gzip) */
  readonly gzip: boolean;
  /** refuse a bill (after gunzip) larger than this */
  readonly maxBytes: number;
}

export type RefundResult = WeChatResult<RefundData>;
export type RefundQueryResult = WeChatResult<RefundQueryData>;

export type UnifiedOrderResult = WeChatResult<UnifiedOrderData>;
export type OrderQueryResult = WeChatResult<OrderQueryData>;
export type CloseOrderResult = WeChatResult<CloseOrderData>;

export interface UnifiedOrderParams {
  readonly outTradeNo: string;
  /** Fen, a positive integer. */
  readonly totalFee: number;
  readonly body: string;
  /** Required for NATIVE. */
  readonly productId?: string;
  readonly notifyUrl: string;
  readonly timeExpire?: Date;
  readonly timeStart?: Date;
  readonly spbillCreateIp?: string;
  readonly attach?: string;
  readonly tradeType?: TradeType;
  /** Required for JSAPI. */
  readonly openid?: string;
}

export type OrderQueryParams = { readonly outTradeNo: string } | { readonly transactionId: string };

export interface WeChatPayClientOptions {
  readonly baseUrl: string;
  readonly appId: string;
  readonly mchId: string;
  readonly apiKey: string;
  readonly signType: SignType;
  /** Whole-call budget: connect, send, wait, read. */
  readonly timeoutMs: number;
  readonly logger?: WeChatLogger;
  /** Default `spbill_create_ip` (WeChat requires one for NATIVE). Default 127.0.0.1. */
  readonly spbillCreateIp?: string;
  /** Keep-alive connections to the WeChat host. Default 16. */
  readonly connections?: number;
  /**
   * The merchant's API client certificate (PKCS#12, issued by WeChat; password = mch_id unless
   * told otherwise): `/secapi/…` endpoints (refund) need it over mutual TLS.
   */
  readonly certificate?: {
    readonly pfx: Buffer;
    readonly passphrase: string;
    /** extra CA to trust for the WeChat host (a TLS-inspecting proxy, a test server); default the system's */
    readonly ca?: Buffer;
  };
  readonly maxResponseBytes?: number;
}

/** The slice of a pino logger the client uses. */
export interface WeChatLogger {
  warn(obj: Record<string, unknown>, msg?: string): void;
  debug(obj: Record<string, unknown>, msg?: string): void;
}
