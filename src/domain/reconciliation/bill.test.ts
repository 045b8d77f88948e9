import { describe, expect, it } from 'vitest';
import { BILL_COLUMNS, BillFormatError, type BillErrorReason, SUMMARY_COLUMNS, fromBillTime, parseBill } from './bill.js';
import { checkBillDate, previousBeijingDate } from './bill-date.js';
import { yuanToFen } from './money.js';

const merchant = { appId: 'wxd930ea5d5a258f4f', mchId: '10000100', billDate: '20261130' };
const HEADER = BILL_COLUMNS.join(',');
const SUMMARY = SUMMARY_COLUMNS.join(',');

/** A line as WeChat writes it: every field back-quoted, the last (费率备注) empty. */
const line = (fields: string[]) => fields.map((f) => `\`${f}`).join(',');
function payment(o: { time?: string; tx?: string; order?: string; yuan?: string; goods?: string; attach?: string; mch?: string } = {}) {
  const yuan = o.yuan ?? '0.01';
  return line([o.time ?? '2026-11-30 16:33:45', merchant.appId, o.mch ?? merchant.mchId, '0', '', o.tx ?? '4200000001202611300005734289', o.order ?? '1415640626', 'oUpF8uMuAJO', 'NATIVE', 'SUCCESS', 'CFT', 'CNY', yuan, '0.00', '0', '0', '0.00', '0.00', '', '', o.goods ?? 'phone', o.attach ?? '', '0.00006', '0.60%', yuan, '0.00', '']);
}
function refund(o: { status?: string; yuan?: string; time?: string } = {}) {
  const yuan = o.yuan ?? '0.01';
  return line([o.time ?? '2026-11-30 20:53:36', merchant.appId, merchant.mchId, '0', '', '4200000001202611300005734289', '1415640626', 'oUpF8uMuAJO', 'NATIVE', 'REFUND', 'CFT', 'CNY', '0.00', '0.00', '50300000012026113012345678901', 'RF1415640626', yuan, '0.00', 'ORIGINAL', o.status ?? 'SUCCESS', 'phone', '', '-0.00006', '0.60%', '0.00', yuan, '']);
}
const summary = (count: number, settled: string, refunded: string, ordered: string, applied: string) => line([String(count), settled, refunded, '0.00', '0.00000', ordered, applied]);
const bill = (...lines: string[]) => lines.join('\r\n') + '\r\n';

function failure(text: string, expect = merchant): BillErrorReason {
  try {
    parseBill(text, expect);
  } catch (err) {
    if (err instanceof BillFormatError) return err.reason;
    throw err;
  }
  throw new Error('the bill was accepted');
}

describe('the daily bill parser', () => {
  it('reads payments and refunds, yuan to fen exactly, Beijing time to UTC', () => {
    const text = '\uFEFF' + bill(HEADER, payment({ yuan: '0.29' }), payment({ tx: '4200000001202611300005734290', order: '1415640627', yuan: '1234.5' }), refund({ yuan: '0.29' }), SUMMARY, summary(3, '1234.79', '0.29', '1234.79', '0.29'));
    const parsed = parseBill(text, merchant);
    expect(parsed.rows).toHaveLength(3);
    expect(parsed.rows[0]).toMatchObject({ kind: 'payment', totalFee: 29, settlementFee: 29, outTradeNo: '1415640626', transactionId: '4200000001202611300005734289' });
    expect(parsed.rows[1]).toMatchObject({ kind: 'payment', totalFee: 123_450 });
    expect(parsed.rows[2]).toMatchObject({ kind: 'refund', refundFee: 29, outRefundNo: 'RF1415640626', refundStatus: 'SUCCESS' });
    expect(parsed.rows[0]!.tradeTime.toISOString()).toBe('2026-11-30T08:33:45.000Z');
    expect(parsed.summary).toMatchObject({ count: 3, orderFee: 123_479, appliedRefundFee: 29 });
  });

  it('keeps commas (and quotes) inside goods names and attach data', () => {
    const parsed = parseBill(bill(HEADER, payment({ goods: 'iPhone 15, 256 GB, "blue"', attach: 'a,b,,c' }), SUMMARY, summary(1, '0.01', '0.00', '0.01', '0.00')), merchant);
    expect(parsed.rows[0]).toMatchObject({ goodsName: 'iPhone 15, 256 GB, "blue"' });
  });

  it('accepts a day with no transactions (header and a zero summary)', () => {
    expect(parseBill(bill(HEADER, SUMMARY, summary(0, '0.00', '0.00', '0.00', '0.00')), merchant).rows).toEqual([]);
  });

  it('yuan → fen never goes through floats and refuses what it cannot read exactly', () => {
    expect(yuanToFen('0.29')).toBe(29);
    expect(yuanToFen('0.07')).toBe(7);
    expect(yuanToFen('1.1')).toBe(110);
    expect(yuanToFen('100')).toBe(10_000);
    expect(yuanToFen('19999999.99')).toBe(1_999_999_999);
    for (const bad of ['0.001', '-1.00', '1e3', ' 1.00', '', '01.00', '1.', '.5', 'NaN']) expect(yuanToFen(bad), bad).toBeUndefined();
  });

  it('Beijing time: the instant 8 hours earlier in UTC; non-times refused', () => {
    expect(fromBillTime('2026-12-01 00:00:00')?.toISOString()).toBe('2026-11-30T16:00:00.000Z');
    expect(fromBillTime('2026-02-30 10:00:00')).toBeUndefined();
    expect(fromBillTime('2026-11-30T10:00:00')).toBeUndefined();
  });

  it('fails loudly on truncated bodies', () => {
    const full = bill(HEADER, payment(), payment({ tx: '4200000001202611300005734290', order: '1415640627' }), SUMMARY, summary(2, '0.02', '0.00', '0.02', '0.00'));
    expect(failure(full.slice(0, full.indexOf(SUMMARY)))).toBe('truncated'); // cut before the summary
    expect(failure(bill(HEADER, payment(), SUMMARY))).toBe('truncated'); // summary line missing
    expect(failure(full.slice(0, full.indexOf('\r\n') + 40))).toBe('truncated'); // cut inside the first row
    expect(failure('')).toBe('empty');
  });

  it('fails when the summary does not match the rows', () => {
    expect(failure(bill(HEADER, payment(), SUMMARY, summary(2, '0.01', '0.00', '0.01', '0.00')))).toBe('summary-mismatch');
    expect(failure(bill(HEADER, payment(), SUMMARY, summary(1, '0.01', '0.00', '0.02', '0.00')))).toBe('summary-mismatch');
    expect(failure(bill(HEADER, payment(), refund(), SUMMARY, summary(2, '0.01', '0.00', '0.01', '0.01')))).toBe('summary-mismatch');
  });

  it('fails on an unknown column layout', () => {
    expect(failure(bill(BILL_COLUMNS.slice(0, -1).join(','), payment(), SUMMARY, summary(1, '0.01', '0.00', '0.01', '0.00')))).toBe('unknown-layout');
    expect(failure(bill(HEADER.replace('订单金额,申请', '总金额,申请'), payment(), SUMMARY, summary(1, '0.01', '0.00', '0.01', '0.00')))).toBe('unknown-layout');
    expect(failure(bill(HEADER, payment(), '总交易单数,总交易额,总退款金额', summary(1, '0.01', '0.00', '0.01', '0.00')))).toBe('unknown-layout');
  });

  it('fails on a row of another merchant or another day, an odd state or amount', () => {
    const sum1 = [SUMMARY, summary(1, '0.01', '0.00', '0.01', '0.00')];
    expect(failure(bill(HEADER, payment({ mch: '1900000109' }), ...sum1))).toBe('other-merchant');
    expect(failure(bill(HEADER, payment(), ...sum1), { ...merchant, appId: 'wx0000000000000000' })).toBe('other-merchant');
    expect(failure(bill(HEADER, payment({ time: '2026-12-01 00:00:00' }), ...sum1))).toBe('other-day');
    expect(failure(bill(HEADER, payment({ time: '2026-11-29 23:59:59' }), ...sum1))).toBe('other-day');
    // a refund row may carry the refunded payment's time, on an earlier day; never a later one
    const refundOnly = [SUMMARY, summary(1, '0.00', '0.01', '0.00', '0.01')];
    expect(parseBill(bill(HEADER, refund({ time: '2026-11-20 10:00:00' }), ...refundOnly), merchant).rows).toHaveLength(1);
    expect(failure(bill(HEADER, refund({ time: '2026-12-01 00:00:01' }), ...refundOnly))).toBe('other-day');
    expect(failure(bill(HEADER, payment().replace('`SUCCESS', '`REVOKED'), ...sum1))).toBe('bad-row');
    expect(failure(bill(HEADER, payment({ yuan: '0.001' }), ...sum1))).toBe('bad-row');
    expect(failure(bill(HEADER, payment({ goods: 'a,`b' }), ...sum1))).toBe('bad-row'); // ",`" inside a field: ambiguous
    expect(failure(bill(HEADER, payment(), ...sum1, 'garbage'))).toBe('truncated');
  });
});

describe('bill dates', () => {
  const now = new Date('2026-12-02T05:00:00Z'); // 13:00 on 2 December in Beijing
  it('yesterday is the Beijing yesterday, across the UTC date line', () => {
    expect(previousBeijingDate(now)).toBe('20261201');
    expect(previousBeijingDate(new Date('2026-12-01T17:00:00Z'))).toBe('20261201'); // 01:00 on the 2nd in Beijing
  });
  it('refuses today, the future, older than three months and non-dates', () => {
    expect(checkBillDate('20261201', now)).toBe('20261201');
    expect(checkBillDate('20260902', now)).toBe('20260902');
    for (const [date, why] of [['20261202', /not a past day/], ['20270101', /not a past day/], ['20260801', /older than three months/], ['20261301', /not a date/], ['2026-12-01', /not a date/]] as const) {
      expect(() => checkBillDate(date, now), date).toThrow(why);
    }
  });
});
