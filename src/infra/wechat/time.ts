/**
 * WeChat's `yyyyMMddHHmmss` timestamps (`time_start`, `time_expire`, `time_end`) are Beijing
 * time, UTC+8 all year (China has no daylight saving), so a fixed offset is exact and we need no
 * time-zone database.
 */
const BEIJING_OFFSET_MS = 8 * 60 * 60 * 1000;
const WECHAT_TIME = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/;

export function toBeijingTime(date: Date): string {
  const ms = date.getTime();
  if (Number.isNaN(ms)) throw new RangeError('invalid date');
  const iso = new Date(ms + BEIJING_OFFSET_MS).toISOString(); // yyyy-MM-ddTHH:mm:ss.sssZ
  return iso.slice(0, 19).replace(/[-T:]/g, '');
}

/** Parse a WeChat timestamp; undefined when it is not a real `yyyyMMddHHmmss` instant. */
export function fromBeijingTime(value: string): Date | undefined {
  const m = WECHAT_TIME.exec(value);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const utc = Date.UTC(year, month - 1, day, hour, minute, second) - BEIJING_OFFSET_MS;
  const date = new Date(utc);
  // Date.UTC rolls 20240230 over into March; a round trip catches such non-dates.
  return toBeijingTime(date) === value ? date : undefined;
}
