import { fromBeijingTime, toBeijingTime } from '../../infra/wechat/time.js';
import { DomainError } from '../errors.js';

/**
 * Bill dates are Beijing calendar days (`yyyyMMdd`, UTC+8 all year, no daylight saving), as
 * WeChat's downloadbill takes them: the day a payment's `time_end` falls in.
 */
const DAY_MS = 86_400_000;

/** WeChat keeps bills for three months; we accept dates up to 92 days back (the longest three months). */
export const BILL_RETENTION_DAYS = 92;

/** The Beijing day of an instant, `yyyyMMdd`. */
export const beijingDate = (at: Date): string => toBeijingTime(at).slice(0, 8);

/** The day before `at`'s Beijing day: the bill the daily job reconciles. */
export const previousBeijingDate = (at: Date): string => beijingDate(new Date(at.getTime() - DAY_MS));

/** [start, end) of a Beijing day as UTC instants; undefined for a string that is no real day. */
export function beijingDayRange(billDate: string): { start: Date; end: Date } | undefined {
  // midnight as a WeChat timestamp: undefined for 20261331, 20260230, 2026-12-1 …
  const start = fromBeijingTime(`${billDate}000000`);
  return start && { start, end: new Date(start.getTime() + DAY_MS) };
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
