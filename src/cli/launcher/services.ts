import { connect } from 'node:net';
import type { Config } from '../../config/env.js';
import { nodeName } from '../../config/redis-target.js';

/** The three services `npm start` needs, and how to start each one on a development machine. */
export interface Service {
  name: string;
  url: string;
  start: string;
}

/** The one Redis, or each node REDIS_URL lists for a cluster (redis+cluster://…). */
const redisServices = (c: Config): Service[] =>
  c.redisCluster
    ? c.redisCluster.nodes.map((node) => ({ name: `Redis Cluster node ${nodeName(node)}`, url: `redis://${nodeName(node)}`, start: 'a node of the cluster REDIS_URL lists (docs/production.md, "Redis Cluster")' }))
    : [{ name: 'Redis', url: c.redisUrl, start: 'redis-server --daemonize yes --appendonly yes --maxmemory-policy noeviction' }];

export const SERVICES = (c: Config): Service[] => [
  ...redisServices(c),
  { name: 'MySQL/MariaDB', url: c.databaseUrl, start: 'start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd   (or: docker compose up -d mariadb)' },
  { name: 'RabbitMQ', url: c.amqpUrl, start: 'rabbitmq-server -detached   (or: docker compose up -d rabbitmq)' },
];

const DEFAULT_PORTS: Record<string, number> = { 'redis:': 6379, 'rediss:': 6379, 'mysql:': 3306, 'mariadb:': 3306, 'amqp:': 5672, 'amqps:': 5671 };

/** A TCP connect only: enough to tell "not running" from "running" before anything starts. */
export function reachable(raw: string, timeoutMs = 2_000): Promise<boolean> {
  const url = new URL(raw);
  const port = Number(url.port) || DEFAULT_PORTS[url.protocol] || 0;
  return new Promise((resolve) => {
    const socket = connect({ host: url.hostname, port, timeout: timeoutMs });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
  });
}

export const redact = (raw: string) => raw.replace(/\/\/([^:@/]+):([^@/]+)@/, '//$1:***@');

/** The services that do not answer, each with its start command. */
export async function missingServices(config: Config): Promise<Service[]> {
  const down: Service[] = [];
  for (const service of SERVICES(config)) if (!(await reachable(service.url))) down.push(service);
  return down;
}

export async function waitForHttp(url: string, timeoutMs: number, stopped: () => boolean): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until && !stopped()) {
    try {
      if ((await fetch(url)).ok) return true;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}
