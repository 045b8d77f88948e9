/**
 * Buyer tokens already verified, by the exact text of their Authorization header: in a flash sale the same buyers send grab
 * after grab (the sold-out crowd retries), and a hit skips the HMAC and both JSON parses.
 *
 * Why not fast-jwt's own cache: it keys entries by a SHA-256 of the token (plus a base64 decode
 * and a regex of its header) on every lookup, hit or miss — ≈ 7 % of a sold-out 409's CPU in the
 * API. The token itself is a key that cannot collide, and a Map lookup of a 200-byte string is
 * a hash the engine caches on the string.
 *
 * An entry lives until the token's `exp` (or `maxAgeMs` after it was verified, whichever comes
 * first), so a cached token is never accepted after it expires. Only successful verifications
 * are stored; a refused token is verified again each time (a bad signature must never be
 * remembered as good, and an attacker's garbage must not fill the cache). When full, the oldest
 * entry goes (insertion order): entries expire anyway, and recency bookkeeping on every hit
 * would cost more than it saves.
 */
export class VerifiedTokens {
  readonly #entries = new Map<string, { sub: string; until: number }>();

  constructor(
    readonly capacity: number,
    readonly maxAgeMs: number,
  ) {}

  /** The buyer of a token verified before and not expired since; undefined otherwise. */
  get(token: string, now = Date.now()): string | undefined {
    const entry = this.#entries.get(token);
    if (entry === undefined) return undefined;
    if (now < entry.until) return entry.sub;
    this.#entries.delete(token);
    return undefined;
  }

  /** Remember a token just verified: `exp` (seconds since the epoch) bounds how long. */
  set(token: string, sub: string, exp: unknown, now = Date.now()): void {
    const until = typeof exp === 'number' ? Math.min(exp * 1000, now + this.maxAgeMs) : now + this.maxAgeMs;
    if (until <= now || this.capacity <= 0) return;
    if (this.#entries.size >= this.capacity && !this.#entries.has(token)) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(token, { sub, until });
  }

  get size(): number {
    return this.#entries.size;
  }
}
