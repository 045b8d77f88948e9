import { describe, expect, it } from 'vitest';
import { VerifiedTokens } from './verified-tokens.js';

describe('VerifiedTokens', () => {
  const now = 1_800_000_000_000;

  it('answers a remembered token until its exp, never after', () => {
    const tokens = new VerifiedTokens(10, 600_000);
    tokens.set('Bearer a', 'buyer-a', now / 1000 + 5, now);
    expect(tokens.get('Bearer a', now)).toBe('buyer-a');
    expect(tokens.get('Bearer a', now + 4_999)).toBe('buyer-a');
    expect(tokens.get('Bearer a', now + 5_000)).toBeUndefined();
    expect(tokens.size).toBe(0); // an expired entry is dropped when met
  });

  it('keeps a token without exp (or with a far one) for at most maxAgeMs', () => {
    const tokens = new VerifiedTokens(10, 1_000);
    tokens.set('Bearer none', 'x', undefined, now);
    tokens.set('Bearer far', 'y', now / 1000 + 86_400, now);
    expect([tokens.get('Bearer none', now + 999), tokens.get('Bearer far', now + 999)]).toEqual(['x', 'y']);
    expect([tokens.get('Bearer none', now + 1_000), tokens.get('Bearer far', now + 1_000)]).toEqual([undefined, undefined]);
  });

  it('does not store a token that has already expired', () => {
    const tokens = new VerifiedTokens(10, 1_000);
    tokens.set('Bearer old', 'x', now / 1000 - 1, now);
    expect(tokens.size).toBe(0);
  });

  it('holds at most capacity entries, dropping the oldest first', () => {
    const tokens = new VerifiedTokens(2, 60_000);
    tokens.set('Bearer 1', 'one', undefined, now);
    tokens.set('Bearer 2', 'two', undefined, now);
    tokens.set('Bearer 2', 'two', undefined, now); // again: nothing is dropped for it
    expect(tokens.size).toBe(2);
    tokens.set('Bearer 3', 'three', undefined, now);
    expect([tokens.get('Bearer 1', now), tokens.get('Bearer 2', now), tokens.get('Bearer 3', now)]).toEqual([undefined, 'two', 'three']);
  });

  it('matches the exact text only', () => {
    const tokens = new VerifiedTokens(10, 60_000);
    tokens.set('Bearer abc', 'x', undefined, now);
    expect([tokens.get('Bearer abd', now), tokens.get('bearer abc', now), tokens.get('Bearer abc ', now)]).toEqual([undefined, undefined, undefined]);
  });
});
