import { createHash, createHmac, randomInt, timingSafeEqual } from 'node:crypto';

/**
 * WeChat Pay v2 request/response signatures (spec: "Signature").
 *
 * The sign type is always passed in by the caller from configuration (or, in the sandbox, from
 * the request it answers). Nothing here reads `sign_type` out of a message to choose the
 * algorithm: a message must not pick how it is checked.
 */
export type SignType = 'MD5' | 'HMAC-SHA256';

export const SIGN_TYPES: readonly SignType[] = ['MD5', 'HMAC-SHA256'];

export function isSignType(value: unknown): value is SignType {
  return value === 'MD5' || value === 'HMAC-SHA256';
}

/** A field set as it travels: absent, null and '' count as "not sent" and are not signed. */
export type SignableFields = Readonly<Record<string, string | number | null | undefined>>;

/** `k1=v1&k2=v2…&key=<apiKey>` over every non-empty field except `sign`, names in ASCII order. */
export function stringToSign(fields: SignableFields, apiKey: string): string {
  const pairs: string[] = [];
  // Plain code-unit comparison is ASCII order for WeChat's ASCII field names; localeCompare is not.
  const names = Object.keys(fields).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const name of names) {
    if (name === 'sign') continue;
    const value = fields[name];
    if (value === undefined || value === null || value === '') continue;
    pairs.push(`${name}=${String(value)}`);
  }
  pairs.push(`key=${apiKey}`);
  return pairs.join('&');
}

/** The signature WeChat expects: upper-case hex, 32 chars (MD5) or 64 chars (HMAC-SHA256). */
export function signFields(fields: SignableFields, apiKey: string, signType: SignType): string {
  const text = stringToSign(fields, apiKey);
  const digest =
    signType === 'MD5'
      ? createHash('md5').update(text, 'utf8').digest('hex')
      : createHmac('sha256', apiKey).update(text, 'utf8').digest('hex');
  return digest.toUpperCase();
}

/**
 * True only when `sign` is present and equals the signature of every other non-empty field,
 * known or not. Compared in constant time over equal-length buffers (a length mismatch is not
 * secret: it only reveals the algorithm's output size).
 */
export function verifySignature(fields: SignableFields, apiKey: string, signType: SignType): boolean {
  const given = fields.sign;
  if (typeof given !== 'string' || given === '') return false;
  const expected = Buffer.from(signFields(fields, apiKey, signType), 'utf8');
  // WeChat emits upper-case hex; accepting lower case costs nothing and some SDKs send it.
  const actual = Buffer.from(given.toUpperCase(), 'utf8');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

const NONCE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A nonce of letters and digits (default 32, WeChat's maximum) from a CSPRNG. */
export function nonceStr(length = 32): string {
  if (!Number.isInteger(length) || length < 1 || length > 32) throw new RangeError('nonce length must be 1..32');
  let out = '';
  // randomInt draws without modulo bias, unlike bytes % 62.
  for (let i = 0; i < length; i += 1) out += NONCE_ALPHABET[randomInt(NONCE_ALPHABET.length)];
  return out;
}
