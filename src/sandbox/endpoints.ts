import type { SignType } from '../infra/wechat/sign.js';
import { fromBeijingTime, toBeijingTime } from '../infra/wechat/time.js';
import { BILL_RETENTION_DAYS, beijingDate, beijingDayRange } from '../domain/reconciliation/bill-date.js';
import { writeBill } from './bill.js';
import { paysDuringClose, type Endpoint, type Faults } from './faults.js';
import { REFUND_ACCOUNTS, refundStatus, type NewRefund, type RefundAccount, type SandboxOrder, type SandboxRefund, type SandboxStore } from './store.js';
import { businessError, invalidParam, ok, protocolFail, RETURN_MSG, type Reply } from './wire.js';

/**
 * The WeChat endpoints' business rules, on a request already authenticated (merchant and
 * signature checked). Each returns the reply; the HTTP layer renders it.
 */
export interface EndpointContext {
  readonly store: SandboxStore;
  readonly faults: Faults;
  readonly now: Date;
  readonly signType: SignType;
  /** Scales the 5-minute close rule along with every other sandbox delay. */
  readonly timeScale: number;
  /** The sandbox merchant (the daily bill's 公众账号ID and 商户号). */
  readonly merchant: { readonly appId: string; readonly mchId: string };
  /** The buyer pays (used by the payDuringClose fault): mark paid and notify. */
  readonly pay: (order: SandboxOrder, via: 'pay-during-close') => void;
}

type Fields = Readonly<Record<string, string>>;

const OUT_TRADE_NO = /^[0-9A-Za-z_\-|*]{6,32}$/;
const OUT_REFUND_NO = /^[0-9A-Za-z_\-|*@]{1,64}$/;
const TOTAL_FEE = /^[1-9][0-9]{0,14}$/;
const NOTIFY_URL = /^https?:\/\/[^?#\s]+$/;
const OFFSET = /^(0|[1-9][0-9]{0,8})$/;
/** refundquery by an order answers at most this many refunds; `offset` pages through the rest. */
const REFUND_PAGE = 10;
const CLOSE_RULE_MS = 5 * 60 * 1000;
// Parameters that change on every call and so are not part of "the same request".
const VOLATILE = new Set(['nonce_str', 'sign', 'sign_type']);

const TRADE_STATE_DESC: Record<SandboxOrder['state'], string> = {
  SUCCESS: '支付成功',
  NOTPAY: '订单未支付',
  CLOSED: '订单已关闭',
  PAYERROR: '支付失败(其他原因，如银行返回失败)',
  REFUND: '订单发生过退款，退款详情请查询退款单',
};

const isPaid = (order: SandboxOrder) => order.state === 'SUCCESS' || order.state === 'REFUND';

export const REQUIRED: Readonly<Record<Endpoint, readonly string[]>> = {
  unifiedorder: ['body', 'out_trade_no', 'total_fee', 'spbill_create_ip', 'notify_url', 'trade_type'],
  orderquery: [],
  closeorder: ['out_trade_no'],
  refund: ['out_refund_no', 'total_fee', 'refund_fee'],
  refundquery: [],
  downloadbill: ['bill_date'],
};

/** Missing or malformed parameters: WeChat's unsigned FAIL answer, before any business rule. */
export function checkRequest(endpoint: Endpoint, f: Fields): Reply | undefined {
  if (REQUIRED[endpoint].some((name) => !f[name])) return protocolFail(RETURN_MSG.LACK_PARAMS);
  switch (endpoint) {
    case 'unifiedorder': {
      if (f.trade_type !== 'NATIVE' && f.trade_type !== 'JSAPI') return invalidParam('trade_type');
      if (f.trade_type === 'NATIVE' ? !f.product_id : !f.openid) return protocolFail(RETURN_MSG.LACK_PARAMS);
      const invalid = invalidUnifiedOrderField(f);
      return invalid ? invalidParam(invalid) : undefined;
    }
    case 'orderquery':
      return !f.transaction_id && !f.out_trade_no ? protocolFail(RETURN_MSG.LACK_PARAMS) : undefined;
    case 'closeorder':
      return undefined;
    case 'refund': {
      if (!f.transaction_id && !f.out_trade_no) return protocolFail(RETURN_MSG.LACK_PARAMS);
      const invalid = invalidRefundField(f);
      return invalid ? invalidParam(invalid) : undefined;
    }
    case 'refundquery':
      if (!f.refund_id && !f.out_refund_no && !f.transaction_id && !f.out_trade_no) return protocolFail(RETURN_MSG.LACK_PARAMS);
      return f.offset !== undefined && !OFFSET.test(f.offset) ? invalidParam('offset') : undefined;
    case 'downloadbill':
      if (!beijingDayRange(f.bill_date ?? '')) return invalidParam('bill_date');
      // the sandbox writes only the ALL layout; WeChat's SUCCESS and REFUND bills have others
      if (f.bill_type !== undefined && f.bill_type !== 'ALL') return invalidParam('bill_type');
      return f.tar_type !== undefined && f.tar_type !== 'GZIP' ? invalidParam('tar_type') : undefined;
  }
}

/** The business rules, on a request that passed checkRequest. */
export function handleEndpoint(endpoint: Endpoint, f: Fields, ctx: EndpointContext): Reply {
  switch (endpoint) {
    case 'unifiedorder':
      return unifiedOrder(f, ctx);
    case 'orderquery':
      return orderQuery(f, ctx);
    case 'closeorder':
      return closeOrder(f, ctx);
    case 'refund':
      return refund(f, ctx);
    case 'refundquery':
      return refundQuery(f, ctx);
    case 'downloadbill':
      return downloadBill(f, ctx);
  }
}

/**
 * The daily bill of a past Beijing day (bill.ts). Today's is not made yet ("Bill Creating", as
 * WeChat answers before about 10:00 the next day); later days and days older than three months
 * are invalid; a day without transactions is "No Bill Exist". Answers are unsigned, as WeChat's.
 */
function downloadBill(f: Fields, ctx: EndpointContext): Reply {
  const billDate = f.bill_date ?? '';
  const today = beijingDate(ctx.now);
  if (billDate > today || billDate < beijingDate(new Date(ctx.now.getTime() - BILL_RETENTION_DAYS * 86_400_000))) return invalidParam('bill_date');
  if (billDate === today) return protocolFail('Bill Creating');
  const text = writeBill({ store: ctx.store, merchant: ctx.merchant, billDate, now: ctx.now, billTotalFee: ctx.faults.billTotalFee, tamper: ctx.faults.billTamper });
  return text === undefined ? protocolFail('No Bill Exist') : { kind: 'bill', text, gzip: f.tar_type === 'GZIP' };
}

function unifiedOrder(f: Fields, ctx: EndpointContext): Reply {
  const tradeType = f.trade_type ?? '';
  const outTradeNo = f.out_trade_no ?? '';
  const request = Object.fromEntries(Object.entries(f).filter(([name]) => !VOLATILE.has(name)));

  const existing = ctx.store.get(outTradeNo);
  if (existing) {
    if (isPaid(existing)) return businessError('ORDERPAID', '该订单已支付');
    if (existing.state === 'CLOSED') return businessError('ORDERCLOSED', '该订单已关闭');
    if (!sameRequest(existing.request, request)) return businessError('INVALID_REQUEST', '201 商户订单号重复');
    return prepaid(existing);
  }
  const order = ctx.store.create(
    {
      outTradeNo,
      request,
      signType: ctx.signType,
      tradeType,
      totalFee: Number(f.total_fee),
      notifyUrl: f.notify_url ?? '',
      attach: f.attach,
      openid: f.openid,
    },
    ctx.now,
  );
  return prepaid(order);
}

function prepaid(order: SandboxOrder): Reply {
  return ok({ trade_type: order.tradeType, prepay_id: order.prepayId, code_url: order.codeUrl });
}

function invalidUnifiedOrderField(f: Fields): string | undefined {
  if (!OUT_TRADE_NO.test(f.out_trade_no ?? '')) return 'out_trade_no';
  if (!TOTAL_FEE.test(f.total_fee ?? '')) return 'total_fee';
  if ((f.body ?? '').length > 127) return 'body';
  if ((f.attach ?? '').length > 127) return 'attach';
  if (!NOTIFY_URL.test(f.notify_url ?? '')) return 'notify_url';
  for (const name of ['time_start', 'time_expire']) {
    const value = f[name];
    if (value !== undefined && !fromBeijingTime(value)) return name;
  }
  return undefined;
}

function sameRequest(a: Fields, b: Fields): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

function orderQuery(f: Fields, ctx: EndpointContext): Reply {
  // transaction_id wins when both are given (WeChat's rule).
  const order = f.transaction_id ? ctx.store.byTransactionId(f.transaction_id) : ctx.store.get(f.out_trade_no ?? '');
  if (!order) return businessError('ORDERNOTEXIST', '此交易订单号不存在');
  const base = { out_trade_no: order.outTradeNo, trade_state: order.state, trade_state_desc: TRADE_STATE_DESC[order.state] };
  if (!isPaid(order)) return ok(base);
  const fee = String(order.totalFee);
  return ok({
    ...base,
    openid: order.openid,
    is_subscribe: 'N',
    trade_type: order.tradeType,
    bank_type: 'CFT',
    total_fee: fee,
    fee_type: 'CNY',
    cash_fee: fee,
    cash_fee_type: 'CNY',
    transaction_id: order.transactionId,
    attach: order.attach,
    time_end: order.timeEnd,
  });
}

function closeOrder(f: Fields, ctx: EndpointContext): Reply {
  const order = ctx.store.get(f.out_trade_no ?? '');
  if (!order) return businessError('ORDERNOTEXIST', '订单不存在');
  if (isPaid(order)) return businessError('ORDERPAID', '订单已支付，不能发起关单');
  if (order.state === 'CLOSED') return businessError('ORDERCLOSED', '订单已关闭，无法重复关闭');
  if (paysDuringClose(ctx.faults, order.outTradeNo)) {
    ctx.pay(order, 'pay-during-close');
    return businessError('ORDERPAID', '订单已支付，不能发起关单');
  }
  if (ctx.faults.closeRule && ctx.now.getTime() - order.createdAt.getTime() < CLOSE_RULE_MS * ctx.timeScale) {
    return businessError('SYSTEMERROR', '订单创建5分钟内不能关闭');
  }
  ctx.store.markClosed(order, ctx.now);
  return ok({ result_msg: 'OK' });
}

/**
 * Malformed refund parameters; WeChat answers a refund_fee above the request's own total_fee the
 * same way (`return_code=FAIL, return_msg=invalid refund_fee`), before looking at the order.
 */
function invalidRefundField(f: Fields): string | undefined {
  if (!OUT_REFUND_NO.test(f.out_refund_no ?? '')) return 'out_refund_no';
  if (!TOTAL_FEE.test(f.total_fee ?? '')) return 'total_fee';
  if (!TOTAL_FEE.test(f.refund_fee ?? '') || Number(f.refund_fee) > Number(f.total_fee)) return 'refund_fee';
  if (f.refund_fee_type !== undefined && f.refund_fee_type !== 'CNY') return 'refund_fee_type';
  if ((f.refund_desc ?? '').length > 80) return 'refund_desc';
  if (f.refund_account !== undefined && !isRefundAccount(f.refund_account)) return 'refund_account';
  if (f.notify_url !== undefined && !NOTIFY_URL.test(f.notify_url)) return 'notify_url';
  return undefined;
}

const isRefundAccount = (value: string): value is RefundAccount => (REFUND_ACCOUNTS as readonly string[]).includes(value);

/** A refund's outcome: the refund (new or the one already made with this out_refund_no) or why not. */
export type RefundOutcome =
  | { readonly ok: true; readonly refund: SandboxRefund; readonly created: boolean }
  | { readonly ok: false; readonly errCode: string; readonly errCodeDes: string };

const refused = (errCode: string, errCodeDes: string): RefundOutcome => ({ ok: false, errCode, errCodeDes });

/**
 * WeChat's refund rules for an order that exists (shared by /secapi/pay/refund and the control
 * API's POST /sandbox/refund). err_codes as WeChat answers them:
 * - same out_refund_no again, same amounts: the same refund (nothing new is refunded);
 * - same out_refund_no, other amounts, or a total_fee that is not the order's:
 *   `REFUND_FEE_MISMATCH` 订单金额或退款金额与之前请求不一致，请核实后再试;
 * - an out_refund_no already used for another order: `INVALID_REQUEST` (the sandbox's choice);
 * - an order never paid (NOTPAY, PAYERROR, CLOSED): `ORDERNOTEXIST` — WeChat's documented answer
 *   ("未支付的订单不能发起退款"), with its own err_code_des here;
 * - nothing left to refund: `ERROR` 订单已全额退款; more than what is left:
 *   `INVALID_REQUEST` refund_fee大于可退金额.
 */
export function applyRefund(store: SandboxStore, order: SandboxOrder, input: NewRefund, now: Date): RefundOutcome {
  const existing = store.refundByOutRefundNo(input.outRefundNo);
  if (existing) {
    if (existing.outTradeNo !== order.outTradeNo) return refused('INVALID_REQUEST', '商户退款单号已用于其他订单');
    if (existing.totalFee !== input.totalFee || existing.refundFee !== input.refundFee) return refused('REFUND_FEE_MISMATCH', REFUND_FEE_MISMATCH_DES);
    return { ok: true, refund: existing, created: false };
  }
  if (!isPaid(order)) return refused('ORDERNOTEXIST', '订单未支付，不能发起退款');
  if (input.totalFee !== order.totalFee) return refused('REFUND_FEE_MISMATCH', REFUND_FEE_MISMATCH_DES);
  const refundable = order.totalFee - store.refundedFee(order);
  if (refundable <= 0) return refused('ERROR', '订单已全额退款');
  if (input.refundFee > refundable) return refused('INVALID_REQUEST', 'refund_fee大于可退金额');
  return { ok: true, refund: store.addRefund(order, input, now), created: true };
}

const REFUND_FEE_MISMATCH_DES = '订单金额或退款金额与之前请求不一致，请核实后再试';

function refund(f: Fields, ctx: EndpointContext): Reply {
  // transaction_id wins when both are given (WeChat's rule); only paid orders have one.
  const order = f.transaction_id ? ctx.store.byTransactionId(f.transaction_id) : ctx.store.get(f.out_trade_no ?? '');
  if (!order) return businessError('ORDERNOTEXIST', '订单不存在');
  const account = f.refund_account ?? '';
  const outcome = applyRefund(
    ctx.store,
    order,
    {
      outRefundNo: f.out_refund_no ?? '',
      totalFee: Number(f.total_fee),
      refundFee: Number(f.refund_fee),
      refundAccount: isRefundAccount(account) ? account : 'REFUND_SOURCE_UNSETTLED_FUNDS', // checked by checkRequest
      refundDesc: f.refund_desc,
      notifyUrl: f.notify_url,
      via: 'refund',
    },
    ctx.now,
  );
  if (!outcome.ok) return businessError(outcome.errCode, outcome.errCodeDes);
  const r = outcome.refund;
  return ok({
    transaction_id: order.transactionId,
    out_trade_no: order.outTradeNo,
    out_refund_no: r.outRefundNo,
    refund_id: r.refundId,
    refund_fee: String(r.refundFee),
    total_fee: String(r.totalFee),
    cash_fee: String(order.totalFee),
    cash_refund_fee: String(r.refundFee),
    coupon_refund_fee: '0',
    coupon_refund_count: '0',
  });
}

/**
 * refundquery. WeChat's priority: refund_id > out_refund_no > transaction_id > out_trade_no. By a
 * refund key it answers that one refund; by an order key the order's refunds, 10 at a time
 * (`offset` pages; `total_refund_count` when the order has more than 10 or offset is given).
 */
function refundQuery(f: Fields, ctx: EndpointContext): Reply {
  const notFound = businessError('REFUNDNOTEXIST', '退款订单查询失败');
  let order: SandboxOrder | undefined;
  let refunds: readonly SandboxRefund[];
  let totalRefundCount: number | undefined;
  if (f.refund_id || f.out_refund_no) {
    const one = f.refund_id ? ctx.store.refundById(f.refund_id) : ctx.store.refundByOutRefundNo(f.out_refund_no ?? '');
    order = one && ctx.store.get(one.outTradeNo);
    refunds = one ? [one] : [];
  } else {
    order = f.transaction_id ? ctx.store.byTransactionId(f.transaction_id) : ctx.store.get(f.out_trade_no ?? '');
    const all = order?.refunds ?? [];
    const offset = Number(f.offset ?? 0);
    if (all.length > 0 && offset >= all.length) return businessError('PARAM_ERROR', 'offset超过了退款单总笔数');
    refunds = all.slice(offset, offset + REFUND_PAGE);
    if (all.length > REFUND_PAGE || f.offset !== undefined) totalRefundCount = all.length;
  }
  if (!order || refunds.length === 0) return notFound;

  const fields: Record<string, string | undefined> = {
    transaction_id: order.transactionId,
    out_trade_no: order.outTradeNo,
    total_fee: String(order.totalFee),
    fee_type: 'CNY',
    cash_fee: String(order.totalFee),
    refund_fee: String(refunds.reduce((sum, r) => sum + r.refundFee, 0)),
    total_refund_count: totalRefundCount === undefined ? undefined : String(totalRefundCount),
    refund_count: String(refunds.length),
  };
  refunds.forEach((r, n) => {
    const status = refundStatus(r, ctx.now);
    fields[`out_refund_no_${n}`] = r.outRefundNo;
    fields[`refund_id_${n}`] = r.refundId;
    fields[`refund_channel_${n}`] = 'ORIGINAL';
    fields[`refund_fee_${n}`] = String(r.refundFee);
    fields[`refund_status_${n}`] = status;
    fields[`refund_account_${n}`] = r.refundAccount;
    fields[`refund_recv_accout_${n}`] = '支付用户零钱';
    if (status === 'SUCCESS') fields[`refund_success_time_${n}`] = beijingDateTime(r.succeedsAt);
  });
  return ok(fields);
}

/** `yyyy-MM-dd HH:mm:ss`, Beijing time: the format of refund_success_time_$n. */
export function beijingDateTime(date: Date): string {
  const t = toBeijingTime(date);
  return `${t.slice(0, 4)}-${t.slice(4, 6)}-${t.slice(6, 8)} ${t.slice(8, 10)}:${t.slice(10, 12)}:${t.slice(12, 14)}`;
}
