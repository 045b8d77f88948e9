import { fromBeijingTime } from '../../infra/wechat/time.js';
import { beijingDayRange } from './bill-date.js';
import { yuanToFen } from './money.js';

/**
 * WeChat Pay v2's daily bill (`/pay/downloadbill`, `bill_type=ALL`), read strictly. The body is
 * CSV-like text: a header line, one line per transaction with every field prefixed by a back-quote
 * (`` ` ``), a summary header and one summary line. The bill is not signed (HTTPS is its only
 * integrity), so everything we can check is checked, and any doubt fails the whole bill: a
 * reconciliation acting on half a bill would "find" payments missing that are only cut off.
 *
 * - The header must be exactly the layout we know (an added, removed or renamed column is a new
 *   layout whose meaning we would be guessing).
 * - Fields are split on `,`` ` ``, never on `,` alone: goods names and attach data contain commas.
 *   A line that still does not have the layout's field count is refused, not repaired.
 * - Every row is this merchant's (公众账号ID, 商户号) and of the bill's day (交易时间, Beijing).
 * - The summary line must match the rows: count and every amount column we read. 手续费总金额 is
 *   not checked: fees carry five decimals and WeChat does not document how the total rounds.
 * - Amounts are yuan with at most two decimals, converted to integer fen without floats.
 */

export const BILL_COLUMNS = [
  '交易时间', '公众账号ID', '商户号', '特约商户号', '设备号', '微信订单号', '商户订单号', '用户标识', '交易类型', '交易状态',
  '付款银行', '货币种类', '应结订单金额', '代金券金额', '微信退款单号', '商户退款单号', '退款金额', '充值券退款金额', '退款类型', '退款状态',
  '商品名称', '商户数据包', '手续费', '费率', '订单金额', '申请退款金额', '费率备注',
] as const;
export const SUMMARY_COLUMNS = ['总交易单数', '应结订单总金额', '退款总金额', '充值券退款总金额', '手续费总金额', '订单总金额', '申请退款总金额'] as const;

type Column = (typeof BILL_COLUMNS)[number];

export type BillErrorReason = 'empty' | 'unknown-layout' | 'truncated' | 'bad-row' | 'other-merchant' | 'other-day' | 'summary-mismatch';

/** Why a bill cannot be reconciled; the run fails with this message. */
export class BillFormatError extends Error {
  constructor(
    readonly reason: BillErrorReason,
    detail: string,
  ) {
    super(`${reason}: ${detail}`);
    this.name = 'BillFormatError';
  }
}

interface RowBase {
  /** the bill's line number (1 = header), for messages */
  readonly line: number;
  readonly tradeTime: Date;
  readonly transactionId: string;
  readonly outTradeNo: string;
}

/** A payment (交易状态 SUCCESS): 订单金额 is the order's total_fee; 应结订单金额 what is settled after coupons. */
export interface BillPayment extends RowBase {
  readonly kind: 'payment';
  readonly totalFee: number;
  readonly settlementFee: number;
  readonly tradeType: string;
  readonly goodsName: string;
}

/** A refund (交易状态 REFUND), on the day it was made: 申请退款金额 is the refund_fee asked for. */
export interface BillRefund extends RowBase {
  readonly kind: 'refund';
  readonly refundId: string;
  readonly outRefundNo: string;
  readonly refundFee: number;
  readonly settlementRefundFee: number;
  /** SUCCESS, PROCESSING, FAIL, CHANGE, REFUNDCLOSE …, as written */
  readonly refundStatus: string;
}

export type BillRow = BillPayment | BillRefund;

export interface BillSummary {
  readonly count: number;
  readonly settlementFee: number;
  readonly refundFee: number;
  readonly couponRefundFee: number;
  readonly orderFee: number;
  readonly appliedRefundFee: number;
  /** as written (not checked, see above) */
  readonly serviceFee: string;
}

export interface Bill {
  readonly billDate: string;
  readonly rows: readonly BillRow[];
  readonly summary: BillSummary;
}

export interface BillExpectation {
  readonly billDate: string;
  readonly appId: string;
  readonly mchId: string;
}

/** The bill of a day without transactions (WeChat answers "No Bill Exist" instead of a bill). */
export function emptyBill(billDate: string): Bill {
  return { billDate, rows: [], summary: { count: 0, settlementFee: 0, refundFee: 0, couponRefundFee: 0, orderFee: 0, appliedRefundFee: 0, serviceFee: '0' } };
}

const TRADE_TIME = /^(\d{4})-(\d{2})-(\d{2})\s+(\d{2}):(\d{2}):(\d{2})$/;
const DIGITS = /^[0-9]{1,32}$/;

/** `yyyy-MM-dd HH:mm:ss` Beijing time as an instant; undefined if not a real time. */
export function fromBillTime(text: string): Date | undefined {
  const m = TRADE_TIME.exec(text);
  return m ? fromBeijingTime(m.slice(1).join('')) : undefined;
}

const headerNames = (line: string) => line.replace(/^\uFEFF/, '').split(',').map((name) => name.trim().replace(/^`/, ''));

/** The back-quoted fields of a data line. */
function fieldsOf(line: string, lineNo: number, expected: number): string[] {
  if (!line.startsWith('`')) throw new BillFormatError('bad-row', `line ${lineNo} does not start with a back-quoted field`);
  const fields = line.slice(1).split(',`').map((f) => f.replace(/\r$/, ''));
  if (fields.length !== expected) {
    throw new BillFormatError('bad-row', `line ${lineNo} has ${fields.length} fields, the layout has ${expected} (a field containing ",\`" cannot be told apart)`);
  }
  return fields;
}

export function parseBill(text: string, expect: BillExpectation): Bill {
  const day = beijingDayRange(expect.billDate);
  if (!day) throw new RangeError(`bill date ${expect.billDate} is not a day`);
  const lines = text.replace(/^\uFEFF/, '').split('\n').map((l) => l.replace(/\r$/, ''));
  while (lines.length > 0 && lines.at(-1)!.trim() === '') lines.pop();
  if (lines.length === 0) throw new BillFormatError('empty', 'the bill is empty');

  const header = headerNames(lines[0]!);
  if (header.length !== BILL_COLUMNS.length || header.some((name, i) => name !== BILL_COLUMNS[i])) {
    throw new BillFormatError('unknown-layout', `header is not the known ALL layout: ${header.slice(0, 40).join(',')}`);
  }
  const summaryAt = lines.findIndex((line, i) => i > 0 && headerNames(line)[0] === SUMMARY_COLUMNS[0]);
  if (summaryAt < 0) throw new BillFormatError('truncated', `no summary header (总交易单数…) after ${lines.length - 1} lines`);
  const summaryHeader = headerNames(lines[summaryAt]!);
  if (summaryHeader.length !== SUMMARY_COLUMNS.length || summaryHeader.some((name, i) => name !== SUMMARY_COLUMNS[i])) {
    throw new BillFormatError('unknown-layout', `summary header is not the known layout: ${summaryHeader.join(',')}`);
  }
  if (lines.length !== summaryAt + 2) {
    throw new BillFormatError('truncated', lines.length < summaryAt + 2 ? 'the summary line is missing' : `${lines.length - summaryAt - 2} lines after the summary line`);
  }

  const col = (fields: string[], name: Column) => fields[BILL_COLUMNS.indexOf(name)]!;
  const rows: BillRow[] = [];
  const totals: ColumnTotals = { settlement: 0, refund: 0, order: 0, applied: 0 };
  for (let i = 1; i < summaryAt; i += 1) {
    const lineNo = i + 1;
    const f = fieldsOf(lines[i]!, lineNo, BILL_COLUMNS.length);
    const { row, amounts } = readRow(lineNo, expect, day, (name) => col(f, name));
    rows.push(row);
    for (const key of Object.keys(totals) as (keyof ColumnTotals)[]) totals[key] += amounts[key];
  }
  const summary = readSummary(fieldsOf(lines[summaryAt + 1]!, summaryAt + 2, SUMMARY_COLUMNS.length), summaryAt + 2);
  checkSummary(rows.length, totals, summary);
  return { billDate: expect.billDate, rows, summary };
}

/** The sums of the amount columns the summary line states (over every row, whatever its kind). */
interface ColumnTotals {
  settlement: number;
  refund: number;
  order: number;
  applied: number;
}

function readRow(lineNo: number, expect: BillExpectation, day: { start: Date; end: Date }, col: (name: Column) => string): { row: BillRow; amounts: ColumnTotals } {
  const bad = (why: string) => new BillFormatError('bad-row', `line ${lineNo}: ${why}`);
  if (col('公众账号ID') !== expect.appId || col('商户号') !== expect.mchId) {
    throw new BillFormatError('other-merchant', `line ${lineNo} is for appid=${col('公众账号ID')} mch_id=${col('商户号')}, not ours (${expect.appId}/${expect.mchId})`);
  }
  const tradeTime = fromBillTime(col('交易时间'));
  if (!tradeTime) throw bad(`交易时间 "${col('交易时间')}" is not yyyy-MM-dd HH:mm:ss`);
  // A payment row is the day's own. A refund row is listed on the day of the refund, and its
  // 交易时间 may be the refunded payment's, on an earlier day (WeChat does not document which):
  // only a time after the bill's day is impossible for it.
  const state = col('交易状态');
  if (tradeTime >= day.end || (state !== 'REFUND' && tradeTime < day.start)) {
    throw new BillFormatError('other-day', `line ${lineNo}: 交易时间 ${col('交易时间')} is not on ${expect.billDate}`);
  }
  const transactionId = col('微信订单号');
  const outTradeNo = col('商户订单号');
  if (!DIGITS.test(transactionId)) throw bad(`微信订单号 "${transactionId}" is not a transaction id`);
  if (!/^[0-9A-Za-z_\-|*]{1,32}$/.test(outTradeNo)) throw bad(`商户订单号 "${outTradeNo}" is not an out_trade_no`);
  const fen = (name: Column) => {
    const value = yuanToFen(col(name));
    if (value === undefined) throw bad(`${name} "${col(name)}" is not an amount in yuan with at most two decimals`);
    return value;
  };
  // every amount column is read, so a malformed one fails the bill even where we do not use it
  fen('代金券金额');
  fen('充值券退款金额');
  const amounts: ColumnTotals = { settlement: fen('应结订单金额'), refund: fen('退款金额'), order: fen('订单金额'), applied: fen('申请退款金额') };
  const base = { line: lineNo, tradeTime, transactionId, outTradeNo };
  if (state === 'SUCCESS') {
    if (amounts.order <= 0) throw bad('a payment of 0 yuan');
    return { amounts, row: { ...base, kind: 'payment', totalFee: amounts.order, settlementFee: amounts.settlement, tradeType: col('交易类型'), goodsName: col('商品名称') } };
  }
  if (state === 'REFUND') {
    const refundId = col('微信退款单号');
    const outRefundNo = col('商户退款单号');
    if (!refundId || !outRefundNo || !col('退款状态')) throw bad('a refund without 微信退款单号, 商户退款单号 or 退款状态');
    return { amounts, row: { ...base, kind: 'refund', refundId, outRefundNo, refundFee: amounts.applied, settlementRefundFee: amounts.refund, refundStatus: col('退款状态') } };
  }
  throw bad(`交易状态 "${state}" is neither SUCCESS nor REFUND`);
}

function readSummary(f: string[], lineNo: number): BillSummary {
  const fen = (i: number) => {
    const value = yuanToFen(f[i]!);
    if (value === undefined) throw new BillFormatError('bad-row', `summary line ${lineNo}: ${SUMMARY_COLUMNS[i]} "${f[i]}" is not an amount`);
    return value;
  };
  if (!/^(0|[1-9][0-9]*)$/.test(f[0]!)) throw new BillFormatError('bad-row', `summary line ${lineNo}: 总交易单数 "${f[0]}" is not a count`);
  return { count: Number(f[0]), settlementFee: fen(1), refundFee: fen(2), couponRefundFee: fen(3), serviceFee: f[4]!, orderFee: fen(5), appliedRefundFee: fen(6) };
}

function checkSummary(count: number, totals: ColumnTotals, s: BillSummary): void {
  const checks: [string, number, number][] = [
    ['总交易单数', s.count, count],
    ['应结订单总金额', s.settlementFee, totals.settlement],
    ['退款总金额', s.refundFee, totals.refund],
    ['订单总金额', s.orderFee, totals.order],
    ['申请退款总金额', s.appliedRefundFee, totals.applied],
  ];
  const wrong = checks.filter(([, stated, counted]) => stated !== counted);
  if (wrong.length > 0) {
    throw new BillFormatError('summary-mismatch', wrong.map(([name, stated, counted]) => `${name} says ${stated} fen, the rows add up to ${counted}`).join('; '));
  }
}
