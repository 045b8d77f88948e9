import { describe, expect, it } from 'vitest';
import { fromBeijingTime, toBeijingTime } from './time.js';

describe('Beijing time', () => {
  it('formats an instant as yyyyMMddHHmmss at UTC+8, across the date line', () => {
    expect(toBeijingTime(new Date('2017-07-16T07:08:49Z'))).toBe('20170716150849');
    expect(toBeijingTime(new Date('2023-12-31T16:00:00Z'))).toBe('20240101000000');
  });

  it('parses back to the same instant and refuses non-dates', () => {
    expect(fromBeijingTime('20170716150849')?.toISOString()).toBe('2017-07-16T07:08:49.000Z');
    expect(fromBeijingTime('20240230120000')).toBeUndefined();
    expect(fromBeijingTime('2024023012000')).toBeUndefined();
    expect(fromBeijingTime('20240101240000')).toBeUndefined();
  });

  it('refuses an invalid Date', () => {
    expect(() => toBeijingTime(new Date('nope'))).toThrow(RangeError);
  });
});
