import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/env.js';
import { PRODUCTION_READY } from '../../config/production-ready.fixture.js';
import { banner } from './banner.js';

const tokens = { alice: 'alice.token.sig', bob: 'bob.token.sig' };

describe('npm start banner', () => {
  it('has commands that work as pasted: real credentials, two buyer tokens, no placeholders', () => {
    const text = banner({ config: loadConfig({}), useSandbox: true, tokens, now: new Date('2026-12-02T10:00:00Z') });
    expect(text).toContain('export TOKEN=alice.token.sig');
    expect(text).toContain('export TOKEN2=bob.token.sig');
    expect(text).toContain('-u admin:admin');
    expect(text).not.toMatch(/<[a-z]+>(?! *\))/); // no <password>, <id>…, only "npm run -s token -- <buyer>"
    expect(text).toContain('"startTime":"2026-12-02T10:00:00.000Z","endTime":"2026-12-03T10:00:00.000Z"');
    expect(text).toContain('/cancel');
    expect(text).toContain('http://127.0.0.1:3100/sandbox/pay');
  });

  it('never prints a password someone chose', () => {
    const text = banner({ config: loadConfig({ ADMIN_USER: 'ops', ADMIN_PASSWORD: 's3cret-chosen' }), useSandbox: true, tokens });
    expect(text).not.toContain('s3cret-chosen');
    expect(text).toContain('-u "ops:$ADMIN_PASSWORD"');
  });

  it('in production: no development tokens, no sandbox', () => {
    const config = loadConfig({ ...PRODUCTION_READY, NODE_ENV: 'production', WECHAT_PAY_BASE_URL: 'https://api.mch.weixin.qq.com', AUTO_REFUND_LATE_PAYMENTS: 'false' });
    const text = banner({ config, useSandbox: false });
    expect(text).not.toContain('export TOKEN');
    expect(text).not.toContain('/sandbox/');
    expect(text).toContain('login service');
  });
});
