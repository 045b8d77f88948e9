import { timingSafeEqual } from 'node:crypto';
import basicAuth from '@fastify/basic-auth';
import jwt from '@fastify/jwt';
import { createVerifier } from 'fast-jwt';
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import fp from 'fastify-plugin';
import { HttpError } from '../http-errors.js';
import { VerifiedTokens } from './verified-tokens.js';

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: { sub: string };
    user: { sub: string };
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** onRequest: a valid HS256 buyer token; the buyer is `sub`. */
    requireBuyer: (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void;
    /** preHandler/onRequest: HTTP Basic admin credentials. */
    requireAdmin: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  }
  interface FastifyRequest {
    buyerId: string;
  }
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export interface AuthOptions {
  jwtSecret: string;
  admin: { user: string; password: string };
}

/**
 * One answer per kind of failure, in our words: what was wrong with a token (expired, malformed,
 * another algorithm, a bad signature, no `sub`) is the JWT library's business and no help to a
 * client; which of user name or password was wrong is no one's. RFC 6750 / 7617 challenges.
 */
const buyerTokenRequired = () => new HttpError('UNAUTHORIZED', 'buyer token required: Authorization: Bearer <JWT>', { 'www-authenticate': 'Bearer realm="seckill"' });
const buyerTokenInvalid = () => new HttpError('UNAUTHORIZED', 'buyer token invalid or expired', { 'www-authenticate': 'Bearer realm="seckill", error="invalid_token"' });
const ADMIN_REALM = 'seckill-admin';
const adminCredentialsRequired = () => new HttpError('UNAUTHORIZED', 'admin credentials required: HTTP Basic', { 'www-authenticate': `Basic realm="${ADMIN_REALM}", charset="UTF-8"` });

export const auth = fp<AuthOptions>(async (app: FastifyInstance, opts) => {
  await app.register(jwt, { secret: opts.jwtSecret, verify: { algorithms: ['HS256'] }, sign: { algorithm: 'HS256' } });
  app.decorateRequest('buyerId', '');
  // One verifier built once (fast-jwt, the library @fastify/jwt wraps): `request.jwtVerify()`
  // decodes each token twice and merges options per call, 13–20 % of a grab's CPU (BENCHMARKS.md).
  // HS256 only: `alg: none` and other algorithms are refused; exp/nbf are checked.
  // Tokens verified once are remembered by their header (verified-tokens.ts): the crowd retries
  // with the same token. 50,000 recent tokens ≈ 15–20 MB; at most 10 minutes, never past `exp`.
  const verify = createVerifier({ key: opts.jwtSecret, algorithms: ['HS256'], cache: false });
  const verified = new VerifiedTokens(50_000, 600_000);
  const buyerOf = (header: string | undefined): string => {
    // keyed by the whole header as the HTTP parser made it: a slice of it would be hashed anew
    // (and compared as a sliced string) on every lookup, ≈ 4 µs of a sold-out 409
    const known = header === undefined ? undefined : verified.get(header);
    if (known !== undefined) return known;
    if (!header?.startsWith('Bearer ')) throw buyerTokenRequired();
    const token = header.slice(7);
    let claims: { sub?: unknown; exp?: unknown };
    try {
      claims = verify(token) as { sub?: unknown; exp?: unknown };
    } catch {
      throw buyerTokenInvalid();
    }
    const sub = claims.sub;
    if (typeof sub !== 'string' || sub.length === 0 || sub.length > 64) throw buyerTokenInvalid();
    verified.set(header, sub, claims.exp);
    return sub;
  };
  // A callback hook, not an async one: every grab passes here, and a promise per request is
  // measurable in the sold-out crowd's figures.
  app.decorate('requireBuyer', (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
    try {
      request.buyerId = buyerOf(request.headers.authorization);
    } catch (err) {
      done(err as Error);
      return;
    }
    done();
  });

  await app.register(basicAuth, {
    validate: async (user, password) => {
      // evaluate both so a wrong user name takes as long as a wrong password
      const ok = [sameSecret(user, opts.admin.user), sameSecret(password, opts.admin.password)];
      if (!ok.every(Boolean)) throw adminCredentialsRequired();
    },
  });
  // Every failure (no header, not Basic, bad base64, wrong credentials) is the same 401.
  app.decorate('requireAdmin', async (request: FastifyRequest, reply: FastifyReply) => {
    await new Promise<void>((resolve, reject) => {
      app.basicAuth(request, reply, (err?: Error) => (err ? reject(adminCredentialsRequired()) : resolve()));
    });
  });
});
