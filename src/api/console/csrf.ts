import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

/**
 * Cross-site request forgery protection of the console's forms.
 *
 * Why it is needed: a browser that has logged in with HTTP Basic caches the credentials and
 * attaches them to every later request to this origin, a form posted by another site included.
 * The credentials alone therefore do not show that the operator meant the action. SameSite does
 * not help here: HTTP Basic uses no cookie.
 *
 * Two independent checks, both required:
 *
 * 1. The browser's word about where the request comes from. Browsers send `Sec-Fetch-Site` on
 *    every request (Chromium, Firefox, Safari since 2023); a form from another site says
 *    `cross-site` or `same-site` and is refused. A browser too old to send it still sends
 *    `Origin` on a POST, which must then name this host. A request with neither is not from a
 *    browser page (curl with the credentials is the operator), and the token below still applies.
 * 2. A token in every form, `<issued ms>.<HMAC>` keyed by the admin credentials. Another site
 *    cannot read our pages (same-origin policy), so it cannot learn a token. Stateless, so every
 *    API instance behind a load balancer accepts any instance's tokens; changing the admin
 *    password invalidates them all; a token expires after TOKEN_TTL_MS (the page reloads every
 *    few seconds on its own, and each refresh brings fresh tokens).
 *
 * A synchronizer token in a server-side session would need a session store; the checks above
 * need nothing but the configuration.
 */
export const TOKEN_TTL_MS = 12 * 3_600_000;
const CLOCK_SKEW_MS = 60_000;

export type CsrfRefusal = 'cross-site request' | 'foreign origin' | 'missing form token' | 'invalid or expired form token';

export class CsrfGuard {
  private readonly key: Buffer;

  constructor(admin: { user: string; password: string }) {
    this.key = createHmac('sha256', `${admin.user}\n${admin.password}`).update('seckill-console-csrf-v1').digest();
  }

  issue(now = Date.now()): string {
    return `${now}.${this.mac(now)}`;
  }

  /** Why a state-changing request must be refused, or undefined when it may go on. */
  check(request: FastifyRequest, token: unknown, now = Date.now()): CsrfRefusal | undefined {
    const site = request.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return 'cross-site request';
    const origin = request.headers.origin;
    if (origin !== undefined && !sameHost(origin, request.host)) return 'foreign origin';
    if (typeof token !== 'string' || token.length === 0) return 'missing form token';
    return this.valid(token, now) ? undefined : 'invalid or expired form token';
  }

  private valid(token: string, now: number): boolean {
    const match = /^(\d{13})\.([A-Za-z0-9_-]{43})$/.exec(token);
    if (!match) return false;
    const issued = Number(match[1]);
    if (issued > now + CLOCK_SKEW_MS || now - issued > TOKEN_TTL_MS) return false;
    const given = Buffer.from(match[2]!);
    const expected = Buffer.from(this.mac(issued));
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private mac(issued: number): string {
    return createHmac('sha256', this.key).update(String(issued)).digest('base64url');
  }
}

/**
 * `Origin` (scheme://host[:port], or "null" from sandboxed frames) names the host the request was
 * sent to. The request's Host is read with the Origin's scheme, so a default port written out on
 * one side only ("localhost:80" against "http://localhost") still matches.
 */
function sameHost(origin: string, host: string): boolean {
  try {
    const from = new URL(origin);
    return new URL(`${from.protocol}//${host}`).host === from.host;
  } catch {
    return false;
  }
}
