import { describe, expect, it } from 'vitest';
import { nonceStr, signFields, stringToSign, verifySignature } from './sign.js';

// WeChat's official test vector (spec: "Signature").
const KEY = '192006250b4c09247ec02edce69f6a2d';
const FIELDS = { appid: 'wxd930ea5d5a258f4f', mch_id: '10000100', device_info: '1000', body: 'test', nonce_str: 'ibuaiVcKdpRxkhJA' };
const MD5 = '9A0A8659F005D6984697E2CA0A9CF3B7';
const HMAC = '6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6';

describe('signFields', () => {
  it('builds the documented string to sign', () => {
    expect(stringToSign(FIELDS, KEY)).toBe(
      'appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA&key=192006250b4c09247ec02edce69f6a2d',
    );
  });

  it('matches the official MD5 and HMAC-SHA256 values', () => {
    expect(signFields(FIELDS, KEY, 'MD5')).toBe(MD5);
    expect(signFields(FIELDS, KEY, 'HMAC-SHA256')).toBe(HMAC);
  });

  it('skips empty values and an existing sign, but signs "0"', () => {
    const withNoise = { ...FIELDS, sign: 'whatever', attach: '', openid: undefined, detail: null };
    expect(signFields(withNoise, KEY, 'MD5')).toBe(MD5);
    expect(signFields({ ...FIELDS, coupon_fee: '0' }, KEY, 'MD5')).not.toBe(MD5);
  });

  it('sorts by ASCII, so upper case sorts before lower case', () => {
    expect(stringToSign({ b: '1', B: '2', a_b: '3', a: '4' }, 'k')).toBe('B=2&a=4&a_b=3&b=1&key=k');
  });
});

describe('verifySignature', () => {
  it('accepts the official vector with either type', () => {
    expect(verifySignature({ ...FIELDS, sign: MD5 }, KEY, 'MD5')).toBe(true);
    expect(verifySignature({ ...FIELDS, sign: HMAC }, KEY, 'HMAC-SHA256')).toBe(true);
  });

  it('refuses a signature of the other type (the type is pinned, not chosen by the message)', () => {
    expect(verifySignature({ ...FIELDS, sign: MD5 }, KEY, 'HMAC-SHA256')).toBe(false);
    expect(verifySignature({ ...FIELDS, sign: HMAC, sign_type: 'HMAC-SHA256' }, KEY, 'MD5')).toBe(false);
  });

  it('refuses a missing or empty sign', () => {
    expect(verifySignature(FIELDS, KEY, 'MD5')).toBe(false);
    expect(verifySignature({ ...FIELDS, sign: '' }, KEY, 'MD5')).toBe(false);
  });

  it('covers unknown fields: adding one breaks the signature', () => {
    expect(verifySignature({ ...FIELDS, sign: MD5, total_fee: '1' }, KEY, 'MD5')).toBe(false);
  });

  it('refuses a changed value, a wrong key and a truncated sign', () => {
    expect(verifySignature({ ...FIELDS, body: 'tesT', sign: MD5 }, KEY, 'MD5')).toBe(false);
    expect(verifySignature({ ...FIELDS, sign: MD5 }, KEY.replace('1', '2'), 'MD5')).toBe(false);
    expect(verifySignature({ ...FIELDS, sign: MD5.slice(0, 31) }, KEY, 'MD5')).toBe(false);
  });
});

describe('nonceStr', () => {
  it('is 32 letters/digits by default and differs each time', () => {
    const seen = new Set(Array.from({ length: 200 }, () => nonceStr()));
    expect(seen.size).toBe(200);
    for (const n of seen) expect(n).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(nonceStr(16)).toMatch(/^[A-Za-z0-9]{16}$/);
  });

  it('refuses lengths WeChat would not accept', () => {
    expect(() => nonceStr(33)).toThrow(RangeError);
    expect(() => nonceStr(0)).toThrow(RangeError);
  });
});
