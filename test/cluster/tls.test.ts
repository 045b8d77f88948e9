import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/env.js';
import { clusterProblems } from '../../src/infra/redis/cluster-check.js';
import { mastersOf } from '../../src/infra/redis/client.js';
import { eventually } from '../../src/sandbox/testing.js';
import { PrivateRedisCluster } from '../helpers/redis-cluster.js';
import { type TestSystem, createTestSystem } from '../helpers/system.js';
import { createAtWeChat, dbOrder, grab, ledgerCounts, newGoods, stock, waitForStatus } from '../worker/support.js';

/**
 * A Redis Cluster that speaks TLS only (clients and its bus), as managed clusters do:
 * REDIS_URL=rediss+cluster://…, REDIS_TLS_CA_FILE the CA that signed the nodes' certificates.
 * The whole system runs on it (API, workers with QUEUE_SHARDS=3, the sandbox, RabbitMQ, MySQL).
 */
describe('on a TLS Redis Cluster (rediss+cluster://)', () => {
  let cluster: PrivateRedisCluster;
  let s: TestSystem;
  const nodes = () => cluster.ports.map((port) => ({ host: '127.0.0.1', port }));

  beforeAll(async () => {
    cluster = await PrivateRedisCluster.start(3, { tls: true });
    s = await createTestSystem({ env: { REDIS_URL: cluster.url, REDIS_TLS_CA_FILE: cluster.caFile, QUEUE_SHARDS: '3', ORDER_TIMEOUT_MS: '1000' } });
  }, 90_000);
  afterAll(async () => {
    await s?.close();
    await cluster?.destroy();
  });

  it('grab, the timeout close at WeChat, a cancel: all over TLS to three masters, and MySQL has them', async () => {
    expect(s.config.redisCluster?.tls?.ca).toContain('BEGIN CERTIFICATE');
    expect(mastersOf(s.infra.core.redis)).toHaveLength(3);
    const goodsId = await newGoods(s, 2);
    const timedOut = await grab(s, 'tls-timeout', goodsId);
    const cancelled = await grab(s, 'tls-cancel', goodsId);
    await createAtWeChat(s, 'tls-timeout', timedOut.orderId);
    const res = await s.app.inject({ method: 'POST', url: `/seckill/orders/${cancelled.orderId}/cancel`, headers: s.buyer('tls-cancel') });
    expect(res.statusCode, res.body).toBe(202);
    expect((await waitForStatus(s, 'tls-timeout', timedOut.orderId, 'CLOSED', 15_000)).closeReason).toBe('TIMEOUT');
    expect((await waitForStatus(s, 'tls-cancel', cancelled.orderId, 'CLOSED', 15_000)).closeReason).toBe('USER_CANCEL');
    for (const order of [timedOut, cancelled]) await eventually(async () => ((await dbOrder(s, order.orderId))?.status === 'CLOSED' ? true : undefined), 15_000);
    expect(await ledgerCounts(s, timedOut.orderId)).toEqual({ closed: 1, paid: 0 });
    expect(await stock(s, goodsId)).toEqual({ stockCount: 2, available: 2, held: 0 });
  }, 60_000);

  it('the nodes refuse plain TCP; without the CA the start-up check refuses, naming every node and the certificate problem', async () => {
    const plain = new Redis({ host: '127.0.0.1', port: cluster.ports[0]!, lazyConnect: true, connectTimeout: 1_000, commandTimeout: 1_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
    plain.on('error', () => undefined);
    await expect(plain.connect().then(() => plain.ping())).rejects.toThrow();
    plain.disconnect();

    expect(await clusterProblems({ nodes: nodes(), tls: { ca: readFileSync(cluster.caFile, 'utf8') } })).toEqual([]);
    // the system's CAs do not know the test CA
    const untrusted = (await clusterProblems({ nodes: nodes(), tls: {} })).join();
    for (const port of cluster.ports) expect(untrusted).toContain(`127.0.0.1:${port}`);
    expect(untrusted).toMatch(/certificate/i);
    // redis+cluster:// (no TLS) to TLS nodes: not reachable, each named
    const noTls = (await clusterProblems({ nodes: nodes() }, 1_000)).join();
    expect(noTls).toMatch(/not reachable/);
    for (const port of cluster.ports) expect(noTls).toContain(`127.0.0.1:${port}`);
  });

  it('configuration: REDIS_TLS_CA_FILE must be a readable PEM certificate, and only with rediss:// or rediss+cluster://', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return '';
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        return err.message;
      }
    };
    expect(problems({ REDIS_URL: cluster.url, REDIS_TLS_CA_FILE: cluster.caFile, QUEUE_PREFIX: '{t}' })).toBe('');
    expect(problems({ REDIS_URL: cluster.url, REDIS_TLS_CA_FILE: '/nonexistent/ca.pem', QUEUE_PREFIX: '{t}' })).toMatch(/REDIS_TLS_CA_FILE.*cannot read/);
    expect(problems({ REDIS_URL: cluster.url, REDIS_TLS_CA_FILE: '/etc/hostname', QUEUE_PREFIX: '{t}' })).toMatch(/REDIS_TLS_CA_FILE.*not a PEM certificate/);
    expect(problems({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_TLS_CA_FILE: cluster.caFile })).toMatch(/REDIS_TLS_CA_FILE.*only used with TLS/);
    const config = loadConfig({ REDIS_URL: 'rediss://127.0.0.1:6380', REDIS_TLS_CA_FILE: cluster.caFile });
    expect(config.redisTls?.ca).toContain('BEGIN CERTIFICATE');
    expect(config.redisCluster).toBeUndefined();
  });
});
