import type { SignType } from '../infra/wechat/sign.js';
import { fromBeijingTime } from '../infra/wechat/time.js';
import { paysDuringClose, type Endpoint, type Faults } from './faults.js';
import type { SandboxOrder, SandboxStore } from './store.js';
import { businessError, invalidParam, ok, protocolFail, RETURN_MSG, type Reply } from './wire.js';

/**
 * The three WeChat endpoints' business rules, on a request already authenticated (merchant and
 * signature checked). Each returns the reply; the HTTP layer renders it.
 */
export interface EndpointContext {
  readonly store: SandboxStore;
  readonly faults: Faults;
  readonly now: Date;
  readonly signType: SignType;
  /** Scales the 5-minute close rule along with every other sandbox delay. */
  readonly timeScale: number;
  /** The buyer pays (used by the payDuringClose fault): mark paid and notify. */
  readonly pay: (order: SandboxOrder, via: 'pay-during-close') => void;
}

type Fields = Readonly<Record<string, string>>;

const OUT_TRADE_NO = /^[0-9A-Za-z_\-|*]{6,32}$/;
const TOTAL_FEE = /^[1-9][0-9]{0,14}$/;
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
  }
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
  if (!/^https?:\/\/[^?#\s]+$/.test(f.notify_url ?? '')) return 'notify_url';
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
