import { BILL_COLUMNS, SUMMARY_COLUMNS } from '../domain/reconciliation/bill.js';
import { beijingDayRange } from '../domain/reconciliation/bill-date.js';
import { fenToYuan } from '../domain/reconciliation/money.js';
import { beijingDateTime } from './endpoints.js';
import type { BillTamper } from './faults.js';
import { refundStatus, type SandboxOrder, type SandboxStore } from './store.js';

/**
 * The sandbox's daily bill (`/pay/downloadbill`, `bill_type=ALL`) from its ledger, written as
 * WeChat writes it: the header, one back-quoted line per payment (交易状态 SUCCESS, on the day it
 * was paid) and per refund (REFUND, on the day it was asked for, 退款状态 as of now), then the
 * summary header and line. The service fee is 0.6 %, written with five decimals like WeChat's.
 *
 * Faults make it wrong on purpose: `billTotalFee` reports another amount for some orders (a
 * consistent bill, so reconciliation sees an amount difference), `billTamper` breaks the bill
 * itself (summary that does not add up, another merchant's rows, an unknown layout, a cut body).
 */
export interface BillInput {
  readonly store: SandboxStore;
  readonly merchant: { readonly appId: string; readonly mchId: string };
  readonly billDate: string;
  readonly now: Date;
  readonly billTotalFee: Readonly<Record<string, number>>;
  readonly tamper: BillTamper;
}

/** The bill's text, or undefined when the day has no transaction (WeChat: "No Bill Exist"). */
export function writeBill(input: BillInput): string | undefined {
  const day = beijingDayRange(input.billDate);
  if (!day) return undefined;
  const within = (at: Date | undefined) => at !== undefined && at >= day.start && at < day.end;
  const merchant = input.tamper === 'other-mch-id' ? { ...input.merchant, mchId: '1999999999' } : input.merchant;
  const rows: { at: Date; fields: string[]; settled: number; ordered: number; refunded: number; applied: number; fee: number }[] = [];
  for (const order of input.store.all()) {
    if (within(order.paidAt) && order.transactionId) {
      const fen = input.billTotalFee[order.outTradeNo] ?? order.totalFee;
      rows.push({ at: order.paidAt!, fields: paymentFields(order, merchant, fen), settled: fen, ordered: fen, refunded: 0, applied: 0, fee: fen * 6 });
    }
    for (const refund of order.refunds) {
      if (!within(refund.requestedAt)) continue;
      const fields = base(order, merchant, refund.requestedAt);
      fields.push('REFUND', 'CFT', 'CNY', '0.00', '0.00', refund.refundId, refund.outRefundNo, fenToYuan(refund.refundFee), '0.00', 'ORIGINAL', refundStatus(refund, input.now));
      fields.push(order.request.body ?? '', order.attach ?? '', fee(-refund.refundFee * 6), '0.60%', '0.00', fenToYuan(refund.refundFee), '');
      rows.push({ at: refund.requestedAt, fields, settled: 0, ordered: 0, refunded: refund.refundFee, applied: refund.refundFee, fee: -refund.refundFee * 6 });
    }
  }
  if (rows.length === 0) return undefined;
  rows.sort((a, b) => a.at.getTime() - b.at.getTime());
  const total = (pick: (r: (typeof rows)[number]) => number) => rows.reduce((sum, r) => sum + pick(r), 0);
  const count = input.tamper === 'summary-mismatch' ? rows.length + 1 : rows.length;
  const header = input.tamper === 'unknown-layout' ? [...BILL_COLUMNS.slice(0, 12), '总金额', ...BILL_COLUMNS.slice(13)] : [...BILL_COLUMNS];
  const lines = [
    header.join(','),
    ...rows.map((r) => line(r.fields)),
    SUMMARY_COLUMNS.join(','),
    line([String(count), fenToYuan(total((r) => r.settled)), fenToYuan(total((r) => r.refunded)), '0.00', fee(total((r) => r.fee)), fenToYuan(total((r) => r.ordered)), fenToYuan(total((r) => r.applied))]),
  ];
  const text = lines.join('\r\n') + '\r\n';
  // cut in the middle of the last transaction line, as a dropped connection would
  return input.tamper === 'truncated' ? text.slice(0, text.lastIndexOf(SUMMARY_COLUMNS[0]) - 20) : text;
}

const line = (fields: readonly string[]) => fields.map((f) => `\`${f}`).join(',');

/** 1/1000 fen (0.6 % of an amount in fen, times 1000) as yuan with five decimals. */
function fee(milliFen: number): string {
  const sign = milliFen < 0 ? '-' : '';
  const abs = Math.abs(milliFen);
  return `${sign}${Math.floor(abs / 100_000)}.${String(abs % 100_000).padStart(5, '0')}`;
}

function base(order: SandboxOrder, merchant: { appId: string; mchId: string }, at: Date): string[] {
  return [beijingDateTime(at), merchant.appId, merchant.mchId, '0', '', order.transactionId ?? '', order.outTradeNo, order.openid ?? '', order.tradeType];
}

function paymentFields(order: SandboxOrder, merchant: { appId: string; mchId: string }, fen: number): string[] {
  const fields = base(order, merchant, order.paidAt!);
  fields.push('SUCCESS', 'CFT', 'CNY', fenToYuan(fen), '0.00', '0', '0', '0.00', '0.00', '', '');
  fields.push(order.request.body ?? '', order.attach ?? '', fee(fen * 6), '0.60%', fenToYuan(fen), '0.00', '');
  return fields;
}
