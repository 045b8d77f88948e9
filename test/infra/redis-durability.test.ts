import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRODUCTION_READY } from '../../src/config/production-ready.fixture.js';
import { redisDurabilityProblems } from '../../src/infra/redis/durability.js';
import { PrivateRedis, freePort } from '../helpers/redis-server.js';

/**
 * design §8: Redis must persist (AOF) and never evict. Checked at start-up on private
 * redis-servers (the machine's shared one runs without persistence, as a development box does).
 */
describe('Redis durability check', () => {
  let redis: PrivateRedis;
  let client: Redis;
  beforeAll(async () => {
    redis = await PrivateRedis.start();
    client = new Redis(redis.url);
  });
  afterAll(async () => {
    client?.disconnect();
    await redis?.destroy();
  });

  it('names what is missing, then nothing once appendonly yes and noeviction are set', async () => {
    await client.config('SET', 'maxmemory-policy', 'allkeys-lru');
    const problems = await redisDurabilityProblems(client);
    expect(problems.join('\n')).toMatch(/appendonly no.*set appendonly yes/);
    expect(problems.join('\n')).toMatch(/maxmemory-policy is allkeys-lru.*noeviction/);
    await client.config('SET', 'appendonly', 'yes');
    await client.config('SET', 'maxmemory-policy', 'noeviction');
    expect(await redisDurabilityProblems(client)).toEqual([]);
  });

  it('reads INFO where CONFIG is disabled (managed Redis)', async () => {
    const port = await freePort();
    const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--rename-command', 'CONFIG', '""'], { stdio: 'ignore' });
    const locked = new Redis(`redis://127.0.0.1:${port}`, { retryStrategy: (n) => (n > 50 ? null : 50) });
    locked.on('error', () => undefined); // refused until the server is up
    try {
      await locked.ping();
      await expect(locked.config('GET', 'appendonly')).rejects.toThrow();
      expect((await redisDurabilityProblems(locked)).join('\n')).toMatch(/appendonly no/);
    } finally {
      locked.disconnect();
      child.kill('SIGKILL');
    }
  });

  it('a worker in production refuses to start on a Redis that may lose data, naming the fix', async () => {
    // the private Redis again without AOF (the first test turned it on); not the machine's own,
    // where the refused worker's queues would still leave their meta keys behind
    await client.config('SET', 'appendonly', 'no');
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/workers/main.ts'], {
      env: {
        ...process.env,
        NODE_ENV: 'production',
        REDIS_URL: redis.url,
        WECHAT_PAY_BASE_URL: 'https://api.mch.weixin.qq.com',
        AUTO_REFUND_LATE_PAYMENTS: 'false',
        ...PRODUCTION_READY,
        WORKER_METRICS_PORT: '0',
        KEY_PREFIX: 'durability-test',
        LOG_LEVEL: 'info',
      },
      encoding: 'utf8',
      timeout: 80_000,
    });
    expect(result.status, result.stdout + result.stderr).toBe(1);
    expect(result.stdout + result.stderr).toMatch(/appendonly .*refused in production/);
  }, 90_000);
});
