import { Redis } from 'ioredis';
import { type ClusterNodeAddress, type RedisClusterTarget, nodeName } from '../../config/redis-target.js';

/**
 * Start-up check of a `redis+cluster://` REDIS_URL, node by node, before anything relies on it.
 * ioredis' Cluster client alone would keep retrying a wrong list quietly (it is happy with any
 * one node that answers), so a typo or a node of another cluster would only show later as
 * MOVED loops or keys written where nobody looks. Each problem names its nodes.
 */
interface NodeReport {
  node: ClusterNodeAddress;
  error?: string;
  clusterEnabled?: boolean;
  state?: string;
  id?: string;
  /** ids of every node this one knows (CLUSTER NODES), itself included */
  known?: Set<string>;
}

async function inspect(node: ClusterNodeAddress, target: RedisClusterTarget, timeoutMs: number): Promise<NodeReport> {
  const probe = new Redis({
    host: node.host,
    port: node.port,
    ...(target.username ? { username: target.username } : {}),
    ...(target.password ? { password: target.password } : {}),
    ...(target.tls ? { tls: { ...target.tls } } : {}),
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectionName: 'seckill-cluster-check',
  });
  // the socket's own error (ECONNREFUSED, ENOTFOUND, …) says more than the rejection's "Connection is closed."
  let socketError: string | undefined;
  probe.on('error', (err: Error) => (socketError ??= err.message));
  try {
    await probe.connect();
    const enabled = /^cluster_enabled:(\d)/m.exec(await probe.info('cluster'))?.[1] === '1';
    if (!enabled) return { node, clusterEnabled: false };
    const info = String(await probe.call('CLUSTER', 'INFO'));
    const nodes = String(await probe.call('CLUSTER', 'NODES'));
    const lines = nodes.split('\n').filter((l) => l.trim() !== '');
    const self = lines.find((l) => l.split(' ')[2]?.split(',').includes('myself'));
    return {
      node,
      clusterEnabled: true,
      state: /^cluster_state:(\w+)/m.exec(info)?.[1] ?? 'unknown',
      ...(self ? { id: self.split(' ')[0]! } : {}),
      known: new Set(lines.map((l) => l.split(' ')[0]!)),
    };
  } catch (err) {
    return { node, error: socketError ?? (err as Error).message };
  } finally {
    probe.disconnect();
  }
}

/** What is wrong with the cluster REDIS_URL names (empty: every node answers, all one cluster, serving). */
export async function clusterProblems(target: RedisClusterTarget, timeoutMs = 2_000): Promise<string[]> {
  const reports = await Promise.all(target.nodes.map((node) => inspect(node, target, timeoutMs)));
  const problems: string[] = [];
  const unreachable = reports.filter((r) => r.error !== undefined);
  if (unreachable.length) problems.push(`Redis Cluster node(s) not reachable: ${unreachable.map((r) => `${nodeName(r.node)} (${r.error})`).join(', ')}`);
  const standalone = reports.filter((r) => r.clusterEnabled === false);
  if (standalone.length) problems.push(`not Redis Cluster nodes (cluster_enabled:0): ${standalone.map((r) => nodeName(r.node)).join(', ')}; redis+cluster:// (or rediss+cluster://) lists nodes started with --cluster-enabled yes`);
  const members = reports.filter((r) => r.clusterEnabled && r.id);
  // one cluster: the first node knows every other one, and each of them knows it
  const first = members[0];
  if (first) {
    const same = members.filter((r) => first.known?.has(r.id!) && r.known?.has(first.id!));
    const others = members.filter((r) => !same.includes(r));
    if (others.length) {
      problems.push(`REDIS_URL's nodes are not one Redis Cluster: ${same.map((r) => nodeName(r.node)).join(', ')} belong together, ${others.map((r) => nodeName(r.node)).join(', ')} do not (another cluster, or a node never joined)`);
    }
    const down = same.filter((r) => r.state !== 'ok');
    if (down.length && !others.length) problems.push(`the Redis Cluster is not serving every slot (cluster_state:${down[0]!.state} at ${down.map((r) => nodeName(r.node)).join(', ')})`);
  }
  return problems;
}

/** Check again until the cluster is fine or `waitMs` has passed (a cluster still starting), then throw naming the nodes. */
export async function assertCluster(target: RedisClusterTarget, waitMs = 10_000): Promise<void> {
  const until = Date.now() + waitMs;
  for (;;) {
    const problems = await clusterProblems(target);
    if (problems.length === 0) return;
    if (Date.now() >= until) throw new Error(problems.join('; '));
    await new Promise((r) => setTimeout(r, 500));
  }
}
