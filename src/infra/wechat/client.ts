import { gunzipSync } from 'node:zlib';
import { Pool } from 'undici';
import { classifyResponse, fatal, retryable, type Classified, type Merchant } from './response.js';
import type {
  CloseOrderResult,
  DownloadBillParams,
  DownloadBillResult,
  OrderQueryParams,
  OrderQueryResult,
  RefundParams,
  RefundQueryResult,
  RefundResult,
  TradeState,
  UnifiedOrderParams,
  UnifiedOrderResult,
  WeChatLogger,
  WeChatPayClientOptions,
} from './result.js';
import { TRADE_STATES, type WeChatFatal, type WeChatRetryable } from './result.js';
import { nonceStr, signFields } from './sign.js';
import { toBeijingTime } from './time.js';
import { buildXml, DEFAULT_MAX_XML_BYTES, parseWeChatXml, WeChatXmlError } from './xml.js';

const OUT_TRADE_NO = /^[0-9A-Za-z_\-|*]{6,32}$/;
const TRANSACTION_ID = /^[0-9]{1,32}$/;
const FEN = /^[0-9]{1,15}$/;
const OUT_REFUND_NO = /^[0-9A-Za-z_\-|*@]{1,64}$/;

type Params = Record<string, string | undefined>;

/**
 * WeChat Pay v2 client for unifiedorder / orderquery / closeorder. It owns one keep-alive
 * connection pool to the WeChat host; `close()` releases it. It never retries by itself: every
 * call returns a classified result (see result.ts) and the caller decides.
 */
export class WeChatPayClient {
  readonly #pool: Pool;
  /** for `/secapi/…` (mutual TLS with the merchant certificate), or the plain pool without one */
  readonly #securePool: Pool;
  readonly #basePath: string;
  readonly #merchant: Merchant;
  readonly #timeoutMs: number;
  readonly #maxResponseBytes: number;
  readonly #spbillCreateIp: string;
  readonly #log: WeChatLogger | undefined;

  constructor(options: WeChatPayClientOptions) {
    const base = new URL(options.baseUrl);
    // A path prefix is allowed (e.g. WeChat's own /sandboxnew); the pool only takes an origin.
    this.#basePath = base.pathname.replace(/\/+$/, '');
    this.#merchant = { appId: options.appId, mchId: options.mchId, apiKey: options.apiKey, signType: options.signType };
    this.#timeoutMs = options.timeoutMs;
    this.#maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_XML_BYTES;
    this.#spbillCreateIp = options.spbillCreateIp ?? '127.0.0.1';
    this.#log = options.logger;
    this.#pool = new Pool(base.origin, {
      connections: options.connections ?? 16,
      keepAliveTimeout: 30_000,
      connect: { timeout: options.timeoutMs },
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
    const cert = options.certificate;
    this.#securePool = cert
      ? new Pool(base.origin, {
          connections: 4,
          keepAliveTimeout: 30_000,
          connect: { timeout: options.timeoutMs, pfx: cert.pfx, passphrase: cert.passphrase, ...(cert.ca ? { ca: cert.ca } : {}) },
          headersTimeout: options.timeoutMs,
          bodyTimeout: options.timeoutMs,
        })
      : this.#pool;
  }

  /** Create (or re-enter with identical parameters) a prepaid order. */
  async unifiedOrder(p: UnifiedOrderParams): Promise<UnifiedOrderResult> {
    const tradeType = p.tradeType ?? 'NATIVE';
    const invalid = checkUnifiedOrder(p, tradeType);
    if (invalid) return fatal('invalid-request', invalid);
    const res = await this.#call('/pay/unifiedorder', {
      body: p.body,
      attach: p.attach,
      out_trade_no: p.outTradeNo,
      total_fee: String(p.totalFee),
      spbill_create_ip: p.spbillCreateIp ?? this.#spbillCreateIp,
      time_start: p.timeStart && toBeijingTime(p.timeStart),
      time_expire: p.timeExpire && toBeijingTime(p.timeExpire),
      notify_url: p.notifyUrl,
      trade_type: tradeType,
      product_id: p.productId,
      openid: p.openid,
    });
    if (res.kind !== 'verified') return res;
    const { prepay_id: prepayId, code_url: codeUrl, trade_type: answeredType } = res.fields;
    if (!prepayId) return fatal('malformed', 'unifiedorder SUCCESS without prepay_id');
    if (tradeType === 'NATIVE' && !codeUrl) return fatal('malformed', 'NATIVE unifiedorder SUCCESS without code_url');
    if (answeredType !== undefined && answeredType !== tradeType) {
      return fatal('malformed', `asked for ${tradeType}, got trade_type=${answeredType}`);
    }
    return { kind: 'ok', data: { prepayId, tradeType, ...(codeUrl ? { codeUrl } : {}) } };
  }

  /** Ask WeChat for an order's state, by out_trade_no or by transaction_id. */
  async orderQuery(p: OrderQueryParams): Promise<OrderQueryResult> {
    const byTransaction = 'transactionId' in p;
    if (byTransaction ? !TRANSACTION_ID.test(p.transactionId) : !OUT_TRADE_NO.test(p.outTradeNo)) {
      return fatal('invalid-request', byTransaction ? 'invalid transactionId' : 'invalid outTradeNo');
    }
    const res = await this.#call(
      '/pay/orderquery',
      byTransaction ? { transaction_id: p.transactionId } : { out_trade_no: p.outTradeNo },
    );
    if (res.kind !== 'verified') return res;
    const f = res.fields;
    // A signed answer about another order is as wrong as another merchant's answer.
    if (byTransaction ? f.transaction_id !== p.transactionId : f.out_trade_no !== p.outTradeNo) {
      return fatal('merchant-mismatch', 'orderquery answered for a different order');
    }
    const tradeState = f.trade_state;
    if (!isTradeState(tradeState)) return fatal('malformed', `unknown trade_state=${tradeState ?? '(missing)'}`);
    const paid = tradeState === 'SUCCESS' || tradeState === 'REFUND';
    if (f.total_fee !== undefined && !FEN.test(f.total_fee)) return fatal('malformed', 'total_fee is not an integer');
    if (f.cash_fee !== undefined && !FEN.test(f.cash_fee)) return fatal('malformed', 'cash_fee is not an integer');
    if (paid && (!f.transaction_id || f.total_fee === undefined)) {
      return fatal('malformed', `trade_state=${tradeState} without transaction_id/total_fee`);
    }
    return {
      kind: 'ok',
      data: {
        tradeState,
        tradeStateDesc: f.trade_state_desc,
        outTradeNo: f.out_trade_no,
        transactionId: f.transaction_id,
        totalFee: f.total_fee === undefined ? undefined : Number(f.total_fee),
        cashFee: f.cash_fee === undefined ? undefined : Number(f.cash_fee),
        timeEnd: f.time_end,
        openid: f.openid,
        attach: f.attach,
        fields: f,
      },
    };
  }

  /** Close an unpaid order so it can no longer be paid. */
  async closeOrder(outTradeNo: string): Promise<CloseOrderResult> {
    if (!OUT_TRADE_NO.test(outTradeNo)) return fatal('invalid-request', 'invalid outTradeNo');
    const res = await this.#call('/pay/closeorder', { out_trade_no: outTradeNo });
    return res.kind === 'verified' ? { kind: 'ok', data: {} } : res;
  }

  /**
   * Refund (part of) a paid order: `/secapi/pay/refund`, over mutual TLS with the merchant
   * certificate. Asynchronous at WeChat: `ok` means accepted; `refundQuery` tells when it is done.
   * The answer must be signed and about this very refund (order, out_refund_no, amounts).
   */
  async refund(p: RefundParams): Promise<RefundResult> {
    if (!OUT_TRADE_NO.test(p.outTradeNo)) return fatal('invalid-request', 'invalid outTradeNo');
    if (!OUT_REFUND_NO.test(p.outRefundNo)) return fatal('invalid-request', 'outRefundNo must be 1..64 of [0-9A-Za-z_-|*@]');
    if (!Number.isSafeInteger(p.totalFee) || p.totalFee <= 0 || !Number.isSafeInteger(p.refundFee) || p.refundFee <= 0 || p.refundFee > p.totalFee) {
      return fatal('invalid-request', 'refundFee must be 1..totalFee fen');
    }
    const res = await this.#call(
      '/secapi/pay/refund',
      {
        out_trade_no: p.outTradeNo,
        transaction_id: p.transactionId,
        out_refund_no: p.outRefundNo,
        total_fee: String(p.totalFee),
        refund_fee: String(p.refundFee),
        refund_desc: p.refundDesc?.slice(0, 80),
      },
      this.#securePool,
    );
    if (res.kind !== 'verified') return res;
    const f = res.fields;
    if (f.out_refund_no !== p.outRefundNo || f.out_trade_no !== p.outTradeNo) return fatal('merchant-mismatch', 'refund answered for another order or refund');
    if (f.refund_fee !== String(p.refundFee) || (f.total_fee !== undefined && f.total_fee !== String(p.totalFee))) {
      return fatal('malformed', `refund answered refund_fee=${f.refund_fee ?? '?'} total_fee=${f.total_fee ?? '?'}, asked ${p.refundFee}/${p.totalFee}`);
    }
    if (!f.refund_id) return fatal('malformed', 'refund SUCCESS without refund_id');
    return { kind: 'ok', data: { refundId: f.refund_id, refundFee: p.refundFee, fields: f } };
  }

  /** The state of one of our refunds, by its out_refund_no. */
  async refundQuery(outRefundNo: string): Promise<RefundQueryResult> {
    if (!OUT_REFUND_NO.test(outRefundNo)) return fatal('invalid-request', 'invalid outRefundNo');
    const res = await this.#call('/pay/refundquery', { out_refund_no: outRefundNo });
    if (res.kind !== 'verified') return res;
    const f = res.fields;
    const count = Number(f.refund_count ?? '0');
    for (let n = 0; n < count && n < 100; n += 1) {
      if (f[`out_refund_no_${n}`] !== outRefundNo) continue;
      const status = f[`refund_status_${n}`];
      if (status !== 'PROCESSING' && status !== 'SUCCESS' && status !== 'REFUNDCLOSE' && status !== 'CHANGE') {
        return fatal('malformed', `refund_status_${n}=${status ?? '(missing)'}`);
      }
      const fee = f[`refund_fee_${n}`];
      if (fee === undefined || !FEN.test(fee)) return fatal('malformed', `refund_fee_${n} is not an integer`);
      return {
        kind: 'ok',
        data: {
          status,
          refundFee: Number(fee),
          ...(f[`refund_id_${n}`] ? { refundId: f[`refund_id_${n}`] } : {}),
          ...(f[`refund_success_time_${n}`] ? { successTime: f[`refund_success_time_${n}`] } : {}),
          fields: f,
        },
      };
    }
    return fatal('merchant-mismatch', `refundquery answered without refund ${outRefundNo}`);
  }

  /**
   * The daily bill of a Beijing day (`bill_type=ALL`, optionally GZIP). A bill is not XML and not
   * signed; an error is WeChat's unsigned `return_code=FAIL` XML, whose `return_msg` says what
   * happened: "No Bill Exist" (no transactions that day) is an empty day; "Bill Creating" (not
   * generated yet, before about 10:00), system errors and (un)compression errors are worth trying
   * again; anything else (signature, parameters, no permission) is fatal.
   */
  async downloadBill(p: DownloadBillParams): Promise<DownloadBillResult> {
    if (!/^\d{8}$/.test(p.billDate)) return fatal('invalid-request', 'billDate must be yyyyMMdd');
    const xml = this.#signed({ bill_date: p.billDate, bill_type: 'ALL', tar_type: p.gzip ? 'GZIP' : undefined });
    const started = Date.now();
    const res = await this.#post(this.#pool, '/pay/downloadbill', xml, p.maxBytes, () => fatal('malformed', `bill larger than ${p.maxBytes} bytes`));
    const outcome: DownloadBillResult = Buffer.isBuffer(res) ? interpretBill(res, p) : res;
    const log = { path: '/pay/downloadbill', billDate: p.billDate, kind: outcome.kind, ms: Date.now() - started };
    if (outcome.kind === 'retryable' || outcome.kind === 'fatal') this.#log?.warn({ ...log, category: outcome.category, reason: outcome.reason }, 'wechat pay call failed');
    else this.#log?.debug(log, 'wechat pay call');
    return outcome;
  }

  /** Close the connection pools; calls in flight fail as retryable. */
  async close(): Promise<void> {
    await this.#pool.close();
    if (this.#securePool !== this.#pool) await this.#securePool.close();
  }

  /** The request body: our merchant, a nonce, the parameters, signed. */
  #signed(params: Params): string {
    const m = this.#merchant;
    // sign_type is sent even for MD5 (WeChat accepts it): the answer is then signed with the
    // type we pinned, whatever WeChat's default may be.
    const fields: Record<string, string> = { appid: m.appId, mch_id: m.mchId, nonce_str: nonceStr(), sign_type: m.signType };
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') fields[k] = v;
    fields.sign = signFields(fields, m.apiKey, m.signType);
    return buildXml(fields);
  }

  async #call(path: string, params: Params, pool: Pool = this.#pool): Promise<Classified> {
    const started = Date.now();
    const max = this.#maxResponseBytes;
    const res = await this.#post(pool, path, this.#signed(params), max, () => retryable('bad-body', `response larger than ${max} bytes`));
    const outcome = Buffer.isBuffer(res) ? this.#interpret(res) : res;
    const log = { path, outTradeNo: params.out_trade_no, outRefundNo: params.out_refund_no, kind: outcome.kind, ms: Date.now() - started };
    if (outcome.kind === 'retryable' || outcome.kind === 'fatal') {
      this.#log?.warn({ ...log, category: outcome.category, reason: outcome.reason }, 'wechat pay call failed');
    } else {
      this.#log?.debug(outcome.kind === 'error' ? { ...log, errCode: outcome.errCode } : log, 'wechat pay call');
    }
    return outcome;
  }

  #interpret(bytes: Buffer): Classified {
    let body: string;
    try {
      body = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      return retryable('bad-body', 'response is not UTF-8');
    }
    let fields: Record<string, string>;
    try {
      fields = parseWeChatXml(body, this.#maxResponseBytes);
    } catch (err) {
      // An HTML error page from a gateway, a truncated body…: the call may work next time.
      if (err instanceof WeChatXmlError) return retryable('bad-body', `response is not WeChat XML (${err.message})`);
      throw err;
    }
    return classifyResponse(fields, this.#merchant);
  }

  /** The body of a 200 answer, at most `limit` bytes (`tooLarge` beyond), or the classified transport failure. */
  async #post(pool: Pool, path: string, xml: string, limit: number, tooLarge: () => WeChatRetryable | WeChatFatal): Promise<Buffer | WeChatRetryable | WeChatFatal> {
    const signal = AbortSignal.timeout(this.#timeoutMs);
    try {
      const { statusCode, body } = await pool.request({
        method: 'POST',
        path: this.#basePath + path,
        headers: { 'content-type': 'text/xml; charset=utf-8' },
        body: xml,
        signal,
      });
      if (statusCode !== 200) {
        await body.dump().catch(() => undefined);
        if (statusCode >= 500 || statusCode === 429) return retryable('http-status', `HTTP ${statusCode}`);
        return fatal('http-status', `HTTP ${statusCode}`);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of body) {
        const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
        size += buf.length;
        if (size > limit) {
          body.destroy();
          return tooLarge();
        }
        chunks.push(buf);
      }
      return Buffer.concat(chunks);
    } catch (err) {
      if (signal.aborted || isTimeoutCode(err)) return retryable('timeout', `no answer within ${this.#timeoutMs} ms`);
      return retryable('connection', describe(err));
    }
  }
}

const BILL_RETRYABLE = /^(Bill Creating|CompressGZip Error|UnCompressGZip Error|SYSTEMERROR|system error)$/i;

/** A downloadbill answer: WeChat's FAIL XML, or the bill (gzip or text). */
function interpretBill(body: Buffer, p: DownloadBillParams): DownloadBillResult {
  const head = body.subarray(0, 64).toString('latin1').trimStart();
  if (head.startsWith('<xml') || head.startsWith('<?xml')) {
    let fields: Record<string, string>;
    try {
      fields = parseWeChatXml(body);
    } catch (err) {
      if (err instanceof WeChatXmlError) return retryable('bad-body', `downloadbill answered broken XML (${err.message})`);
      throw err;
    }
    const msg = fields.return_msg ?? '';
    if (fields.return_code !== 'FAIL') return fatal('malformed', `downloadbill answered XML with return_code=${fields.return_code ?? '(missing)'}`);
    // WeChat's documents say "NO Bill Exist"; it sends "No Bill Exist"
    if (/^no bill exist$/i.test(msg.trim())) return { kind: 'ok', data: { noBill: true } };
    if (BILL_RETRYABLE.test(msg.trim())) return retryable('system-error', `downloadbill: ${msg}`);
    return fatal('return-fail', `downloadbill return_code=FAIL: ${msg || '(no return_msg)'}${fields.error_code ? ` (error_code ${fields.error_code})` : ''}`);
  }
  let bytes = body;
  if (p.gzip) {
    if (body[0] !== 0x1f || body[1] !== 0x8b) return fatal('malformed', 'asked for a GZIP bill, the answer is not gzip');
    try {
      bytes = gunzipSync(body, { maxOutputLength: p.maxBytes });
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') return fatal('malformed', `bill larger than ${p.maxBytes} bytes once decompressed`);
      // cut short on the way: another download may do
      return retryable('bad-body', `the GZIP bill does not decompress: ${(err as Error).message}`);
    }
  }
  try {
    return { kind: 'ok', data: { noBill: false, text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), bytes: bytes.length } };
  } catch {
    return fatal('malformed', 'the bill is not UTF-8');
  }
}

function checkUnifiedOrder(p: UnifiedOrderParams, tradeType: string): string | undefined {
  if (!OUT_TRADE_NO.test(p.outTradeNo)) return 'outTradeNo must be 6..32 of [0-9A-Za-z_-|*]';
  if (!Number.isSafeInteger(p.totalFee) || p.totalFee <= 0) return 'totalFee must be a positive integer (fen)';
  if (p.body.length === 0 || p.body.length > 127) return 'body must be 1..127 characters';
  if (p.attach !== undefined && p.attach.length > 127) return 'attach must be at most 127 characters';
  if (!/^https?:\/\/[^?#\s]+$/.test(p.notifyUrl)) return 'notifyUrl must be an http(s) URL without query string';
  if (tradeType === 'NATIVE' && !p.productId) return 'productId is required for NATIVE';
  if (tradeType === 'JSAPI' && !p.openid) return 'openid is required for JSAPI';
  for (const [name, date] of [['timeStart', p.timeStart], ['timeExpire', p.timeExpire]] as const) {
    if (date && Number.isNaN(date.getTime())) return `${name} is not a valid date`;
  }
  return undefined;
}

function isTradeState(value: string | undefined): value is TradeState {
  return (TRADE_STATES as readonly (string | undefined)[]).includes(value);
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

function isTimeoutCode(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && TIMEOUT_CODES.has(String(err.code));
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = 'code' in err ? ` (${String(err.code)})` : '';
    return `${err.name}: ${err.message}${code}`;
  }
  return String(err);
}
