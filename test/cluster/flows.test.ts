import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweep } from '../../src/domain/orders/sweep.js';
import { jobId } from '../../src/infra/queues/catalogue.js';
import { shardOf, slotOf } from '../../src/infra/queues/shards.js';
import { eventually } from '../../src/sandbox/testing.js';
import { assertCluster, clusterProblems } from '../../src/infra/redis/cluster-check.js';
import { PrivateRedisCluster } from '../helpers/redis-cluster.js';
import { freePort } from '../helpers/redis-server.js';
import { type TestSystem, createTestSystem } from '../helpers/system.js';
import { hashTag, keySlot } from '../redis/redis-state.js';
import { createAtWeChat, dbOrder, grab, ledgerCounts, newGoods, reserveWithoutJob, stock, waitForStatus } from '../worker/support.js';

const SHARDS = 3;

/**
 * Design §9 on a real Redis Cluster: three masters (test/helpers/redis-cluster.ts), REDIS_URL =
 * redis+cluster://…, QUEUE_SHARDS=3. The flows of the single-Redis suites, end to end through
 * the API, the workers, RabbitMQ, MySQL and the WeChat sandbox: grab, timeout close, payment,
 * cancel, the sweeper; then where the keys and the queues landed.
 */
describe('on a Redis Cluster of three masters, with QUEUE_SHARDS=3', () => {
  let cluster: PrivateRedisCluster;
  let s: TestSystem;
  let masters: { port: number; slots: [number, number][] }[];
  const nodeConns: Redis[] = [];
  const masterOf = (key: string) => masters.find((m) => m.slots.some(([a, b]) => keySlot(key) >= a && keySlot(key) <= b))!.port;

  beforeAll(async () => {
    cluster = await PrivateRedisCluster.start(3);
    const probe = cluster.node(cluster.ports[0]!);
    const slots = (await probe.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
    probe.disconnect();
    masters = cluster.ports.map((port) => ({ port, slots: slots.filter((s) => s[2][1] === port).map((s) => [s[0], s[1]] as [number, number]) }));
    s = await createTestSystem({ env: { REDIS_URL: cluster.url, QUEUE_SHARDS: String(SHARDS), ORDER_TIMEOUT_MS: '1000', SOLD_OUT_RECHECK_MS: '60000' }, sweeper: true });
    for (const port of cluster.ports) nodeConns.push(cluster.node(port));
  }, 60_000);
  afterAll(async () => {
    for (const conn of nodeConns) conn.disconnect();
    await s?.close();
    await cluster?.destroy();
  });

  const closeJobState = async (orderId: string) => {
    const job = await s.infra.core.queues.of('order-timeout', orderId).getJob(jobId.closeOrder(orderId));
    return job ? job.getState() : 'gone';
  };
  const timerScheduled = (orderId: string) =>
    eventually(async () => {
      const state = await closeJobState(orderId);
      return state === 'gone' ? undefined : state;
    }, 5_000, 20);

  it('the configuration names a cluster and three shards with their own hash tags, one on each master', async () => {
    expect(s.config.redisCluster?.nodes.map((n) => n.port)).toEqual(cluster.ports);
    const tags = s.infra.core.queues.shards.map((sh) => hashTag(`${sh.prefix}:k`));
    tags.forEach((tag, n) => expect(tag.startsWith(`${hashTag(`${s.config.queuePrefix}:k`)}:${n}`)).toBe(true));
    // our slot arithmetic is Redis's, and the tags land on three different masters (shards.ts)
    for (const tag of tags) expect(await nodeConns[0]!.call('CLUSTER', 'KEYSLOT', `{${tag}}`)).toBe(slotOf(tag));
    expect(new Set(tags.map((tag) => masterOf(`{${tag}}`))).size).toBe(3);
  });

  it('start-up check: a node list that does not answer, a Redis that is no cluster node, or a node of another cluster is refused, naming the nodes', async () => {
    const target = { nodes: cluster.ports.map((port) => ({ host: '127.0.0.1', port })) };
    await expect(assertCluster(target, 0)).resolves.toBeUndefined();
    const dead = await freePort();
    await expect(assertCluster({ nodes: [...target.nodes, { host: '127.0.0.1', port: dead }] }, 0)).rejects.toThrow(new RegExp(`not reachable: 127\\.0\\.0\\.1:${dead} \\(`));
    // the machine's shared Redis (6379) is a plain one: only read (INFO)
    expect((await clusterProblems({ nodes: [target.nodes[0]!, { host: '127.0.0.1', port: 6379 }] })).join()).toMatch(/not Redis Cluster nodes \(cluster_enabled:0\): 127\.0\.0\.1:6379/);
    const lone = await PrivateRedisCluster.start(1, { join: false });
    try {
      const problems = (await clusterProblems({ nodes: [...target.nodes, { host: '127.0.0.1', port: lone.ports[0]! }] })).join();
      expect(problems).toMatch(new RegExp(`not one Redis Cluster: .* 127\\.0\\.0\\.1:${lone.ports[0]} do not`));
      // alone, it is "one cluster" that serves no slot
      expect((await clusterProblems({ nodes: [{ host: '127.0.0.1', port: lone.ports[0]! }] })).join()).toMatch(/not serving every slot \(cluster_state:fail/);
    } finally {
      await lone.destroy();
    }
  });

  it('grab, then the timeout closes the order at WeChat, here and in MySQL; the unit is back', async () => {
    const goodsId = await newGoods(s, 2);
    const order = await grab(s, 'cl-timeout', goodsId);
    expect(await timerScheduled(order.orderId)).toBe('delayed');
    await createAtWeChat(s, 'cl-timeout', order.orderId);
    const closed = await waitForStatus(s, 'cl-timeout', order.orderId, 'CLOSED', 10_000);
    expect(closed.closeReason).toBe('TIMEOUT');
    await eventually(async () => ((await dbOrder(s, order.orderId))?.status === 'CLOSED' ? true : undefined));
    expect(await ledgerCounts(s, order.orderId)).toEqual({ closed: 1, paid: 0 });
    expect(await stock(s, goodsId)).toEqual({ stockCount: 2, available: 2, held: 0 });
  });

  it('payment: the sandbox pays and notifies, RabbitMQ, the bridge and a sharded payment job mark it PAID; its timer is removed', async () => {
    const goodsId = await newGoods(s, 2);
    const order = await grab(s, 'cl-pay', goodsId);
    await createAtWeChat(s, 'cl-pay', order.orderId);
    expect(await timerScheduled(order.orderId)).toBe('delayed');
    expect((await s.sandbox.pay(order.orderId)).status).toBe(200);
    await waitForStatus(s, 'cl-pay', order.orderId, 'PAID');
    await eventually(async () => ((await dbOrder(s, order.orderId))?.status === 'PAID' ? true : undefined), 10_000);
    await eventually(async () => ((await closeJobState(order.orderId)) === 'gone' ? true : undefined));
    expect(await stock(s, goodsId)).toEqual({ stockCount: 1, available: 1, held: 0 });
  });

  it('cancel: 202, then CLOSED with USER_CANCEL through the shard of the order; the restock is heard over pub/sub', async () => {
    const goodsId = await newGoods(s, 1);
    const order = await grab(s, 'cl-cancel', goodsId);
    await createAtWeChat(s, 'cl-cancel', order.orderId);
    // sold out: the API now answers this goods from memory (its re-check is 60 s away here)
    const grabAs = (buyer: string) => s.app.inject({ method: 'POST', url: '/seckill/orders', headers: s.buyer(buyer), payload: { goodsId } });
    expect((await grabAs('cl-after')).statusCode).toBe(409);
    const res = await s.app.inject({ method: 'POST', url: `/seckill/orders/${order.orderId}/cancel`, headers: s.buyer('cl-cancel') });
    expect(res.statusCode, res.body).toBe(202);
    const closed = await waitForStatus(s, 'cl-cancel', order.orderId, 'CLOSED', 5_000);
    expect(closed.closeReason).toBe('USER_CANCEL');
    expect(await ledgerCounts(s, order.orderId)).toEqual({ closed: 1, paid: 0 });
    // the close's keyless PUBLISH (on the goods' master) reached the subscriber (on any node)
    await eventually(async () => ((await grabAs('cl-after')).statusCode === 201 ? true : undefined), 5_000, 50);
  });

  it('the sweeper closes an overdue order whose timer was lost, and finds no drift', async () => {
    const goodsId = await newGoods(s, 1);
    const orderId = await reserveWithoutJob(s, 'cl-sweep', goodsId, 200);
    expect(await closeJobState(orderId)).toBe('gone');
    const closed = await waitForStatus(s, 'cl-sweep', orderId, 'CLOSED', 15_000);
    expect(closed.closeReason).toBe('TIMEOUT');
    expect(await stock(s, goodsId)).toEqual({ stockCount: 1, available: 1, held: 0 });
    const report = await sweep(s.workerInfra.core);
    expect(report.drift.filter((d) => d.drift !== 0)).toEqual([]);
  }, 30_000);

  it('keys and queues spread over all three masters; every master serves commands; Bull Board lists every shard', async () => {
    const { keys, queues } = s.infra.core;
    // goods until each master owns one (ids come from MySQL's auto-increment)
    const goodsByMaster = new Map<number, string>();
    for (let i = 0; i < 40 && goodsByMaster.size < 3; i += 1) {
      const goodsId = await newGoods(s, 50);
      goodsByMaster.set(masterOf(keys.forGoods(goodsId).stock), goodsId);
    }
    expect(goodsByMaster.size).toBe(3);
    const before = await Promise.all(nodeConns.map(async (c) => Number(/total_commands_processed:(\d+)/.exec(await c.info('stats'))?.[1])));
    // orders until every shard holds a close job
    const shardsHit = new Set<number>();
    let buyer = 0;
    for (const goodsId of goodsByMaster.values()) {
      for (let i = 0; i < 8; i += 1) {
        const order = await grab(s, `cl-spread-${(buyer += 1)}`, goodsId);
        shardsHit.add(shardOf(order.orderId, SHARDS));
      }
    }
    expect(shardsHit.size).toBe(3);
    // the pump made close jobs in every shard: each shard's queue has written its events stream
    for (const sh of queues.shards) {
      const owner = nodeConns[cluster.ports.indexOf(masterOf(`${sh.prefix}:x`))]!;
      await eventually(async () => ((await owner.exists(`${sh.prefix}:order-timeout:events`)) === 1 ? true : undefined), 5_000, 20);
    }

    const spread = await Promise.all(
      nodeConns.map(async (conn, i) => {
        const all: string[] = [];
        let cursor = '0';
        do {
          const [next, found] = await conn.scan(cursor, 'COUNT', 1000);
          cursor = next;
          all.push(...found);
        } while (cursor !== '0');
        const after = Number(/total_commands_processed:(\d+)/.exec(await conn.info('stats'))?.[1]);
        return {
          port: cluster.ports[i]!,
          goodsKeys: all.filter((k) => k.startsWith(`${s.config.keyPrefix}:{g:`)).length,
          queueKeys: all.filter((k) => queues.shards.some((sh) => k.startsWith(`${sh.prefix}:`))).length,
          commands: after - before[i]!,
        };
      }),
    );
    console.log(`per-master spread: ${JSON.stringify(spread)}`);
    for (const m of spread) {
      expect(m.goodsKeys, `goods keys on ${m.port}`).toBeGreaterThan(0);
      expect(m.queueKeys, `queue keys on ${m.port}`).toBeGreaterThan(0);
      expect(m.commands, `commands served by ${m.port}`).toBeGreaterThan(0);
    }

    const board = await s.app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: s.admin });
    expect(board.statusCode, board.body).toBe(200);
    const names = board.json<{ queues: { name: string }[] }>().queues.map((q) => q.name);
    for (const n of [0, 1, 2]) expect(names).toContain(`shard-${n}.order-timeout`);
    expect(names).toContain('shard-0.maintenance');
    expect(names).not.toContain('shard-1.maintenance');
  }, 30_000);
});
