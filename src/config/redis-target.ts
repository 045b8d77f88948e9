/**
 * What REDIS_URL names: one Redis (`redis://…`, `rediss://…`, as ioredis reads them) or a Redis
 * Cluster, written `redis+cluster://[user:password@]host:port[,host:port…]` — the seed nodes
 * (any masters or replicas of the one cluster; the client learns the rest from them) — or
 * `rediss+cluster://…` for TLS to every node (managed clusters usually require it). One variable
 * rather than a second list beside it, so a process cannot be half-configured for both.
 * REDIS_TLS_CA_FILE names the CA to trust instead of the system's, for either TLS form.
 */
export interface ClusterNodeAddress {
  readonly host: string;
  readonly port: number;
}

/** TLS to Redis: `ca` (PEM) replaces the system's trusted CAs when REDIS_TLS_CA_FILE is set. */
export interface RedisTls {
  readonly ca?: string;
}

export interface RedisClusterTarget {
  readonly nodes: readonly ClusterNodeAddress[];
  readonly username?: string;
  readonly password?: string;
  /** rediss+cluster://: TLS to every node */
  readonly tls?: RedisTls;
}

export const CLUSTER_SCHEME = 'redis+cluster:';
export const TLS_CLUSTER_SCHEME = 'rediss+cluster:';

const clusterSchemeOf = (url: string): string | undefined =>
  [CLUSTER_SCHEME, TLS_CLUSTER_SCHEME].find((scheme) => url.toLowerCase().startsWith(`${scheme}//`));

export const isClusterUrl = (url: string): boolean => clusterSchemeOf(url) !== undefined;

/** REDIS_URL asks for TLS: `rediss://` (one Redis) or `rediss+cluster://`. */
export const isTlsUrl = (url: string): boolean => /^rediss(\+cluster)?:\/\//i.test(url);

/** Parse a `redis+cluster://` or `rediss+cluster://` URL; returns a problem (for the configuration's message) or the target. */
export function parseClusterUrl(url: string): RedisClusterTarget | { problem: string } {
  const scheme = clusterSchemeOf(url) ?? CLUSTER_SCHEME;
  const rest = url.slice(scheme.length + 2).replace(/\/+$/, '');
  const at = rest.lastIndexOf('@');
  const auth = at >= 0 ? rest.slice(0, at) : '';
  const hosts = at >= 0 ? rest.slice(at + 1) : rest;
  if (hosts.includes('/') || hosts.includes('?')) return { problem: 'a cluster URL takes no database number, path or options: redis+cluster://host:port,host:port' };
  const nodes: ClusterNodeAddress[] = [];
  for (const part of hosts.split(',')) {
    // host:port, or [v6-address]:port
    const match = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]\s]+):(\d{1,5})$/.exec(part.trim());
    const port = Number(match?.[2]);
    if (!match || port < 1 || port > 65535) return { problem: `cluster node "${part}" is not host:port (redis+cluster://host:port,host:port)` };
    nodes.push({ host: match[1]!.replace(/^\[|\]$/g, ''), port });
  }
  const colon = auth.indexOf(':');
  const username = decodeURIComponent(colon >= 0 ? auth.slice(0, colon) : auth);
  const password = colon >= 0 ? decodeURIComponent(auth.slice(colon + 1)) : '';
  return { nodes, ...(username ? { username } : {}), ...(password ? { password } : {}), ...(scheme === TLS_CLUSTER_SCHEME ? { tls: {} } : {}) };
}

/** `host:port` of a node, as messages name it. */
export const nodeName = (node: ClusterNodeAddress): string => (node.host.includes(':') ? `[${node.host}]:${node.port}` : `${node.host}:${node.port}`);

/**
 * Redis's hash-tag rule: the text between the first `{` and the first `}` after it, if not
 * empty. Every key of a BullMQ queue starts with the prefix, so a tag there keeps the queue in
 * one slot (BullMQ's own scripts need that on a cluster).
 */
export function hashTagSpan(text: string): { open: number; close: number } | undefined {
  const open = text.indexOf('{');
  if (open < 0) return undefined;
  const close = text.indexOf('}', open + 1);
  return close > open + 1 ? { open, close } : undefined;
}
