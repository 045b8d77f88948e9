import { DomainError } from '../errors.js';

/**
 * Bill dates are Beijing calendar days (`yyyyMMdd`, UTC+8 all year, no daylight saving), as
 * WeChat's downloadbill takes them: the day a payment's `time_end` falls in.
 */
const BEIJING_OFFSET_MS = 8 * 3_600_000;
const DAY_MS = 86_400_000;
const BILL_DATE = /^(\d{4})(\d{2})(\d{2})$/;

/** WeChat keeps bills for three months; we accept dates up to 92 days back (the longest three months). */
export const BILL_RETENTION_DAYS = 92;

/** The Beijing day of an instant, `yyyyMMdd`. */
export function beijingDate(at: Date): string {
  return new Date(at.getTime() + BEIJING_OFFSET_MS).toISOString().slice(0, 10).replace(/-/g, '');
}

/** The day before `at`'s Beijing day: the bill the daily job reconciles. */
export const previousBeijingDate = (at: Date): string => beijingDate(new Date(at.getTime() - DAY_MS));

/** [start, end) of a Beijing day as UTC instants; undefined for a string that is no real day. */
export function beijingDayRange(billDate: string): { start: Date; end: Date } | undefined {
  const m = BILL_DATE.exec(billDate);
  if (!m) return undefined;
  const start = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) - BEIJING_OFFSET_MS;
  if (beijingDate(new Date(start)) !== billDate) return undefined; // 20261331, 20260230 …
  return { start: new Date(start), end: new Date(start + DAY_MS) };
}

/**
 * A bill date the admin API and the job accept: a real day, before today in Beijing (today's bill
 * does not exist yet) and within WeChat's three months. Otherwise INVALID_INPUT (400) saying which.
 */
export function checkBillDate(billDate: string, now: Date = new Date()): string {
  const invalid = (why: string) => new DomainError('INVALID_INPUT', `billDate ${billDate}: ${why}`, { fields: ['billDate'] });
  if (!beijingDayRange(billDate)) throw invalid('not a date (yyyyMMdd, a Beijing calendar day)');
  const today = beijingDate(now);
  if (billDate >= today) throw invalid(`not a past day: WeChat has bills only for days before today (${today}, Beijing time)`);
  const oldest = beijingDate(new Date(now.getTime() - BILL_RETENTION_DAYS * DAY_MS));
  if (billDate < oldest) throw invalid(`older than three months (${oldest} is the oldest day WeChat keeps a bill for)`);
  return billDate;
}
