import type { Queue } from 'bullmq';
import type { Queues } from '../../src/infra/queues/queues.js';
import { type RedisClient, mastersOf } from '../../src/infra/redis/client.js';
import { PrivateRedisCluster } from '../../test/helpers/redis-cluster.js';

/**
 * BENCH_REDIS=cluster: bench:timeouts on a private Redis Cluster (three masters on loopback
 * ports, test/helpers/redis-cluster.ts) with QUEUE_SHARDS shards (default 3), and what each
 * master did over the run: keys, commands, CPU.
 */
export const benchOnCluster = (process.env.BENCH_REDIS ?? 'single') === 'cluster';
if (!['single', 'cluster'].includes(process.env.BENCH_REDIS ?? 'single')) throw new Error(`BENCH_REDIS: single or cluster (got ${process.env.BENCH_REDIS})`);

export async function startBenchCluster(): Promise<{ cluster: PrivateRedisCluster; env: NodeJS.ProcessEnv }> {
  const cluster = await PrivateRedisCluster.start(3);
  return { cluster, env: { REDIS_URL: cluster.url, QUEUE_SHARDS: process.env.QUEUE_SHARDS ?? '3' } };
}

/** The order-timeout queue of every shard seen as one (counts summed; workers: the fewest of any shard). */
export function closeQueues(queues: Queues) {
  const shards: Queue[] = queues.all().filter((q) => q.name === 'order-timeout').map((q) => q.queue);
  return {
    async getJobCountByTypes(...types: Parameters<Queue['getJobCountByTypes']>): Promise<number> {
      return (await Promise.all(shards.map((q) => q.getJobCountByTypes(...types)))).reduce((a, b) => a + b, 0);
    },
    async getJobCounts(): Promise<Record<string, number>> {
      const all = await Promise.all(shards.map((q) => q.getJobCounts()));
      const sum: Record<string, number> = {};
      for (const counts of all) for (const [state, n] of Object.entries(counts)) sum[state] = (sum[state] ?? 0) + n;
      return sum;
    },
    async getWorkersCount(): Promise<number> {
      return Math.min(...(await Promise.all(shards.map((q) => q.getWorkersCount()))));
    },
  };
}

export interface MasterFigures {
  node: string;
  keys: number;
  commands: number;
  cpuSeconds: number;
  /** of the commands, the Lua calls (EVALSHA/EVAL: our transitions and BullMQ's scripts) */
  scripts: number;
}

/** Per master: keys now, commands and CPU so far (differences of two readings give the run's share). */
export async function readMasters(redis: RedisClient): Promise<MasterFigures[]> {
  return Promise.all(
    mastersOf(redis).map(async (master) => {
      const info = await master.info('all');
      const field = (name: string) => Number(new RegExp(`^${name}:(\\S+)`, 'm').exec(info)?.[1] ?? 0);
      const calls = (cmd: string) => Number(new RegExp(`^cmdstat_${cmd}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0);
      return {
        node: `${master.options.host}:${master.options.port}`,
        keys: await master.dbsize(),
        commands: field('total_commands_processed'),
        cpuSeconds: field('used_cpu_user') + field('used_cpu_sys'),
        scripts: calls('evalsha') + calls('eval'),
      };
    }),
  );
}

/** The run's share per master: commands, scripts and CPU as differences; keys as at the end's peak reading. */
export function masterDelta(before: MasterFigures[], after: MasterFigures[], peakKeys: Map<string, number>): MasterFigures[] {
  return after.map((a) => {
    const b = before.find((x) => x.node === a.node);
    return {
      node: a.node,
      keys: peakKeys.get(a.node) ?? a.keys,
      commands: a.commands - (b?.commands ?? 0),
      cpuSeconds: Math.round((a.cpuSeconds - (b?.cpuSeconds ?? 0)) * 100) / 100,
      scripts: a.scripts - (b?.scripts ?? 0),
    };
  });
}
