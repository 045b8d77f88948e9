import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createVerifier } from 'fast-jwt';
import { describe, expect, it } from 'vitest';
import { PRODUCTION_READY } from '../config/production-ready.fixture.js';
import { signBuyerToken } from './dev-token.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const SECRET = 'token-cli-test-secret-0123456789';

/** `npm run token -- <args>` without npm's banner: the script itself, as npm runs it. */
function token(args: string[], env: Record<string, string> = {}) {
  const { NODE_ENV: _ignored, ...inherited } = process.env;
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/token.ts', ...args], {
    cwd: root,
    env: { ...inherited, JWT_SECRET: SECRET, ...env },
    encoding: 'utf8',
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('npm run token', () => {
  it('prints only a token that the API would accept: HS256 with JWT_SECRET, sub = the buyer, valid 24 h', () => {
    const { code, stdout } = token(['alice']);
    expect(code).toBe(0);
    expect(stdout.trim().split('\n')).toHaveLength(1);
    // the verifier src/api/plugins/auth.ts uses
    const claims = createVerifier({ key: SECRET, algorithms: ['HS256'] })(stdout.trim()) as { sub: string; iat: number; exp: number };
    expect(claims.sub).toBe('alice');
    expect(claims.exp - claims.iat).toBe(86_400);
    expect(() => createVerifier({ key: `${SECRET}-other`, algorithms: ['HS256'] })(stdout.trim())).toThrow();
  });

  it('explains its usage without a buyer, with a buyer too long, or with two', () => {
    for (const args of [[], ['x'.repeat(65)], ['alice', 'bob']]) {
      const { code, stdout, stderr } = token(args);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toContain('usage: npm run token -- <buyer>');
    }
  });

  it('refuses with NODE_ENV=production, complete configuration or not, and says who issues tokens there', () => {
    const { code, stdout, stderr } = token(['alice'], { NODE_ENV: 'production' });
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain('refuses in production');
    expect(stderr).toContain('docs/production.md');
  });

  it('refuses as well against WeChat Pay itself (production by another name) with a complete configuration', () => {
    const env = { ...PRODUCTION_READY, WECHAT_PAY_BASE_URL: 'https://api.mch.weixin.qq.com', AUTO_REFUND_LATE_PAYMENTS: 'false' };
    const { code, stdout, stderr } = token(['alice'], env);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain('refuses in production');
  });
});

describe('signBuyerToken', () => {
  it('keeps to the buyer ids the API accepts (1 to 64 characters)', () => {
    expect(() => signBuyerToken(SECRET, '')).toThrow(RangeError);
    expect(() => signBuyerToken(SECRET, 'x'.repeat(65))).toThrow(RangeError);
    expect(signBuyerToken(SECRET, 'x'.repeat(64))).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  });
});
