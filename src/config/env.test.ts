import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './env.js';
import { PRODUCTION_READY } from './production-ready.fixture.js';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems as string[];
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('has defaults that run on the local services, with warnings for development secrets', () => {
    const config = loadConfig({});
    expect(config.port).toBe(3000);
    expect(config.host).toBe('127.0.0.1');
    expect(config.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(config.databaseUrl).toBe('mysql://root@127.0.0.1:3306/seckill');
    expect(config.amqpUrl).toBe('amqp://guest:guest@127.0.0.1:5672');
    expect(config.orderTimeoutMs).toBe(1_800_000);
    expect(config.wechat.baseUrl).toBe('http://127.0.0.1:3100');
    expect(config.wechat.signType).toBe('MD5');
    expect(config.wechat.notifyUrl).toBe('http://127.0.0.1:3000/pay/wechat/notify');
    expect(config.amqp).toMatchObject({ exchange: 'exchange.order', queue: 'queue.seckillorder', routingKey: 'queue.seckillorder' });
    expect(config.warnings.join('\n')).toMatch(/JWT_SECRET/);
    expect(config.warnings.join('\n')).toMatch(/ADMIN_USER/);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('derives the notify URL from PORT and treats empty values as unset', () => {
    const config = loadConfig({ PORT: '4000', ORDER_TIMEOUT_MS: '' });
    expect(config.wechat.notifyUrl).toBe('http://127.0.0.1:4000/pay/wechat/notify');
    expect(config.orderTimeoutMs).toBe(1_800_000);
  });

  it('names every bad variable in one error', () => {
    const found = problems({
      PORT: 'eighty',
      REDIS_URL: 'http://nope',
      ORDER_TIMEOUT_MS: '-5',
      WECHAT_API_KEY: 'short',
      WECHAT_SIGN_TYPE: 'SHA1',
      WORKER_CONCURRENCY: '0',
    });
    const names = found.map((p) => p.split(':')[0]);
    expect(names).toEqual(expect.arrayContaining(['PORT', 'REDIS_URL', 'ORDER_TIMEOUT_MS', 'WECHAT_API_KEY', 'WECHAT_SIGN_TYPE', 'WORKER_CONCURRENCY']));
    // secrets are never echoed back
    expect(found.find((p) => p.startsWith('WECHAT_API_KEY'))).not.toContain('short');
  });

  it('refuses a payment window under 5 minutes against the real WeChat host', () => {
    const found = problems({ WECHAT_PAY_BASE_URL: 'https://api.mch.weixin.qq.com', ORDER_TIMEOUT_MS: '60000' });
    expect(found.join()).toMatch(/ORDER_TIMEOUT_MS: must be >= 300000/);
    expect(loadConfig({ ...PRODUCTION_READY, WECHAT_PAY_BASE_URL: 'https://api.mch.weixin.qq.com', ORDER_TIMEOUT_MS: '300000', AUTO_REFUND_LATE_PAYMENTS: 'false' }).wechat.isProduction).toBe(true);
    expect(loadConfig({ ORDER_TIMEOUT_MS: '2000' }).orderTimeoutMs).toBe(2000); // sandbox: short windows are fine
  });

  it("refuses a close min age under WeChat's 5 minutes against the real host, allows it against the sandbox", () => {
    expect(loadConfig({}).wechat.closeMinAgeMs).toBe(300_000);
    const found = problems({ WECHAT_PAY_BASE_URL: 'https://api.mch.weixin.qq.com', WECHAT_CLOSE_MIN_AGE_MS: '299999' });
    expect(found.join()).toMatch(/WECHAT_CLOSE_MIN_AGE_MS: must be >= 300000/);
    expect(loadConfig({ WECHAT_CLOSE_MIN_AGE_MS: '300' }).wechat.closeMinAgeMs).toBe(300);
    expect(problems({ WECHAT_CLOSE_MIN_AGE_MS: '-1' }).join()).toMatch(/WECHAT_CLOSE_MIN_AGE_MS/);
  });

  it('refunds against the real host need a readable merchant certificate, unless auto-refund is off', () => {
    const real = { ...PRODUCTION_READY, WECHAT_PAY_BASE_URL: 'https://api.mch.weixin.qq.com', ORDER_TIMEOUT_MS: '1800000' };
    expect(problems(real).join()).toMatch(/WECHAT_CERT_P12: required against WeChat Pay/);
    expect(loadConfig({ ...real, AUTO_REFUND_LATE_PAYMENTS: 'false' }).wechat.autoRefund).toBe(false);
    expect(problems({ WECHAT_CERT_P12: '/nonexistent/apiclient_cert.p12' }).join()).toMatch(/WECHAT_CERT_P12: cannot read this file/);
    const config = loadConfig({ WECHAT_CERT_P12: 'package.json', WECHAT_MCH_ID: '1900000109' });
    expect(config.wechat.certificateFile).toEqual({ path: 'package.json', passphrase: '1900000109' }); // password defaults to mch_id
    expect(loadConfig({}).wechat.autoRefund).toBe(true);
    expect(problems({ AUTO_REFUND_LATE_PAYMENTS: 'yes' }).join()).toMatch(/AUTO_REFUND_LATE_PAYMENTS/);
  });

  it('production (NODE_ENV=production or the real WeChat host) refuses every unsafe default, naming each; development warns', () => {
    const prod = { ...PRODUCTION_READY, NODE_ENV: 'production', WECHAT_PAY_BASE_URL: 'https://api.mch.weixin.qq.com', AUTO_REFUND_LATE_PAYMENTS: 'false' };
    expect(loadConfig(prod).production).toBe(true);
    const cases: [Record<string, string | undefined>, RegExp][] = [
      [{ JWT_SECRET: undefined }, /JWT_SECRET: not set .*the development secret is public/],
      [{ JWT_SECRET: 'compose-dev-jwt-secret-change-me' }, /JWT_SECRET/],
      [{ ADMIN_PASSWORD: undefined }, /ADMIN_USER\/ADMIN_PASSWORD: the development credentials/],
      [{ ADMIN_USER: 'admin', ADMIN_PASSWORD: 'admin' }, /ADMIN_USER\/ADMIN_PASSWORD/],
      [{ WECHAT_APPID: 'wxd930ea5d5a258f4f' }, /WECHAT_APPID\/WECHAT_MCH_ID\/WECHAT_API_KEY: WeChat's published test-vector/],
      [{ WECHAT_API_KEY: '192006250b4c09247ec02edce69f6a2d' }, /test-vector/],
      [{ WECHAT_NOTIFY_URL: 'http://shop.example.com/pay/wechat/notify' }, /WECHAT_NOTIFY_URL: .* is not a public HTTPS URL/],
      [{ WECHAT_NOTIFY_URL: 'https://127.0.0.1/pay/wechat/notify' }, /WECHAT_NOTIFY_URL/],
      [{ WECHAT_NOTIFY_URL: 'https://192.168.1.20/pay/wechat/notify' }, /WECHAT_NOTIFY_URL/],
      [{ WECHAT_NOTIFY_URL: undefined }, /WECHAT_NOTIFY_URL/],
      [{ WECHAT_PAY_BASE_URL: undefined }, /WECHAT_PAY_BASE_URL: payments go to the local WeChat sandbox/],
    ];
    for (const [change, message] of cases) {
      const found = problems({ ...prod, ...change }).join('\n');
      expect(found, JSON.stringify(change)).toMatch(message);
      expect(found).toMatch(/refused in production: NODE_ENV=production/);
    }
    // all at once: one message naming each
    const all = problems({ NODE_ENV: 'production' }).join('\n');
    for (const name of ['JWT_SECRET', 'ADMIN_USER/ADMIN_PASSWORD', 'WECHAT_APPID/WECHAT_MCH_ID/WECHAT_API_KEY', 'WECHAT_NOTIFY_URL', 'WECHAT_PAY_BASE_URL']) expect(all).toContain(`${name}:`);
    // the real WeChat host means production too, whatever NODE_ENV says
    expect(problems({ WECHAT_PAY_BASE_URL: 'https://api.mch.weixin.qq.com', AUTO_REFUND_LATE_PAYMENTS: 'false' }).join('\n')).toMatch(/refused in production: WECHAT_PAY_BASE_URL is WeChat Pay/);
    // development: the same findings, each one warning, nothing refused
    const dev = loadConfig({});
    expect(dev.production).toBe(false);
    expect(dev.warnings).toHaveLength(5);
    expect(dev.warnings.every((w) => w.includes('refused in production'))).toBe(true);
    expect(loadConfig({ ...PRODUCTION_READY, WECHAT_PAY_BASE_URL: 'https://api.mch.weixin.qq.com', AUTO_REFUND_LATE_PAYMENTS: 'false' }).warnings).toEqual([]);
  });

  it('refuses a notify URL with a query string (WeChat rule)', () => {
    expect(problems({ WECHAT_NOTIFY_URL: 'http://x/notify?a=1' }).join()).toMatch(/WECHAT_NOTIFY_URL/);
  });
});

describe('reconciliation settings', () => {
  it('default to every day at 10:30 Beijing time, gzipped; refuse a time before 10:00 or not HH:MM', () => {
    expect(loadConfig({}).reconciliation).toEqual({ enabled: true, hour: 10, minute: 30, gzip: true, maxBillBytes: 256 * 1024 * 1024, retryMs: 60_000, attempts: 12 });
    expect(loadConfig({ RECONCILIATION_AT: '23:05', RECONCILIATION_ENABLED: 'false' }).reconciliation).toMatchObject({ enabled: false, hour: 23, minute: 5 });
    expect(() => loadConfig({ RECONCILIATION_AT: '09:59' })).toThrow(/RECONCILIATION_AT: must be 10:00 or later/);
    expect(() => loadConfig({ RECONCILIATION_AT: '10:60' })).toThrow(/RECONCILIATION_AT: must be HH:MM/);
    expect(() => loadConfig({ RECONCILIATION_MAX_BILL_BYTES: '0' })).toThrow(/RECONCILIATION_MAX_BILL_BYTES/);
  });
});

describe('entry points with a bad configuration', () => {
  it('stop with one message naming each bad variable', { timeout: 90_000 }, async () => {
    const { spawnSync } = await import('node:child_process');
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/api/main.ts'], {
      env: { ...process.env, PORT: 'x', WECHAT_SIGN_TYPE: 'RSA', AMQP_URL: 'nope' },
      encoding: 'utf8',
      timeout: 80_000, // a cold tsx start on a busy 2-CPU machine
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/Invalid configuration/);
    for (const name of ['PORT', 'WECHAT_SIGN_TYPE', 'AMQP_URL']) expect(result.stderr).toContain(`${name}:`);
  });
});

describe('Redis Cluster and queue shards (design §9)', () => {
  it('reads redis+cluster://[user:password@]host:port,… as the seed nodes; one shard by default', () => {
    const plain = loadConfig({});
    expect(plain.redisCluster).toBeUndefined();
    expect(plain.queueShards).toBe(1);
    const config = loadConfig({ REDIS_URL: 'redis+cluster://app:s%3Acret@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002', QUEUE_SHARDS: '6' });
    expect(config.redisCluster).toEqual({
      nodes: [{ host: '10.0.0.1', port: 7000 }, { host: '10.0.0.2', port: 7001 }, { host: '::1', port: 7002 }],
      username: 'app',
      password: 's:cret',
    });
    expect(config.queueShards).toBe(6);
  });

  it('refuses a node that is not host:port, and any other scheme', () => {
    expect(problems({ REDIS_URL: 'redis+cluster://10.0.0.1:7000,10.0.0.2' }).join()).toMatch(/REDIS_URL: cluster node "10.0.0.2" is not host:port/);
    expect(problems({ REDIS_URL: 'redis+cluster://10.0.0.1:7000/2' }).join()).toMatch(/REDIS_URL: a cluster URL takes no database number/);
    expect(problems({ REDIS_URL: 'http://10.0.0.1:7000' }).join()).toMatch(/REDIS_URL: must be a URL with protocol redis: or rediss:, or redis\+cluster:/);
  });

  it('refuses a QUEUE_PREFIX without a hash tag on a cluster, and with QUEUE_SHARDS > 1', () => {
    expect(problems({ REDIS_URL: 'redis+cluster://10.0.0.1:7000', QUEUE_PREFIX: 'seckill' }).join()).toMatch(/QUEUE_PREFIX: must contain a hash tag such as \{seckill\} when REDIS_URL names a Redis Cluster/);
    expect(problems({ REDIS_URL: 'redis+cluster://10.0.0.1:7000', QUEUE_PREFIX: 'a{}b' }).join()).toMatch(/QUEUE_PREFIX/);
    expect(problems({ QUEUE_SHARDS: '3', QUEUE_PREFIX: 'seckill' }).join()).toMatch(/QUEUE_PREFIX: must contain a hash tag .* when QUEUE_SHARDS > 1/);
    expect(problems({ QUEUE_SHARDS: '0' }).join()).toMatch(/QUEUE_SHARDS/);
    // a plain Redis keeps accepting any prefix with one shard (as before)
    expect(loadConfig({ QUEUE_PREFIX: 'seckill' }).queuePrefix).toBe('seckill');
  });
});
