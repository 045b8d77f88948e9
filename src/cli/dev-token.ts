import { createSigner } from 'fast-jwt';

/** What src/api/plugins/auth.ts accepts as a buyer: `sub` of 1 to 64 characters. */
export const MAX_BUYER_LENGTH = 64;
export const DEV_TOKEN_TTL_SECONDS = 24 * 60 * 60;

/**
 * A development buyer token: HS256 signed with JWT_SECRET, the buyer in `sub`, valid for a day.
 * Production tokens come from the operator's own login service (docs/production.md); this is
 * for `npm run token` and the examples `npm start` prints.
 */
export function signBuyerToken(secret: string, buyer: string, ttlSeconds = DEV_TOKEN_TTL_SECONDS): string {
  if (buyer.length === 0 || buyer.length > MAX_BUYER_LENGTH) {
    throw new RangeError(`a buyer id has 1 to ${MAX_BUYER_LENGTH} characters (got ${buyer.length})`);
  }
  const sign = createSigner({ key: secret, algorithm: 'HS256', expiresIn: ttlSeconds * 1000 });
  return sign({ sub: buyer });
}
