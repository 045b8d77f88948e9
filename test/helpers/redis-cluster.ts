import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort, waitUntilServing } from './redis-server.js';

const run = promisify(execFile);

/**
 * A private Redis Cluster for one test file (or a benchmark): `masters` redis-server processes
 * with `--cluster-enabled yes` on free loopback ports, each in its own temp directory (its
 * nodes.conf), joined with `redis-cli --cluster create … --cluster-yes` (no replicas), ready
 * once every node's CLUSTER INFO says `cluster_state:ok`. Nothing is persisted; destroy() kills
 * the processes and removes the directories.
 */
export class PrivateRedisCluster {
  private readonly children: ChildProcess[] = [];
  private readonly dirs: string[] = [];

  private constructor(readonly ports: number[]) {}

  /** `join: false` leaves the nodes apart (each its own cluster without slots: a bad-input case). */
  static async start(masters = 3, { join = true }: { join?: boolean } = {}): Promise<PrivateRedisCluster> {
    const ports: number[] = [];
    // freePort closes its probe at once: two calls may hand out one port, so ask until distinct
    while (ports.length < masters) {
      const port = await freePort();
      // the cluster bus listens on port + 10000: keep that in range too
      if (!ports.includes(port) && port + 10_000 <= 65_535) ports.push(port);
    }
    const cluster = new PrivateRedisCluster(ports);
    try {
      await Promise.all(ports.map((port) => cluster.spawn(port)));
      if (join) {
        await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
        await cluster.waitUntilOk();
      }
    } catch (err) {
      await cluster.destroy();
      throw err;
    }
    return cluster;
  }

  /** REDIS_URL for the application: every master as a seed node. */
  get url(): string {
    return `redis+cluster://${this.ports.map((p) => `127.0.0.1:${p}`).join(',')}`;
  }

  /** A plain connection to one node (to look at what that master holds). */
  node(port: number): Redis {
    return new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, lazyConnect: false });
  }

  private async spawn(port: number): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), 'seckill-cluster-'));
    this.dirs.push(dir);
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000', '--save', '', '--appendonly', 'no', '--dir', dir],
      { stdio: 'ignore' },
    );
    this.children.push(child);
    await waitUntilServing(port, () => child.exitCode !== null);
  }

  /** Every node agrees the slots are covered (redis-cli returns once they are assigned; the gossip takes a moment). */
  private async waitUntilOk(timeoutMs = 20_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    const nodes = this.ports.map((port) => this.node(port));
    try {
      for (;;) {
        const infos = await Promise.all(nodes.map((n) => n.call('CLUSTER', 'INFO') as Promise<string>));
        if (infos.every((info) => /^cluster_state:ok/m.test(info) && /^cluster_known_nodes:(\d+)/m.exec(info)?.[1] === String(this.ports.length))) return;
        if (Date.now() > until) throw new Error(`cluster on ${this.ports.join(',')} not ok after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      for (const n of nodes) n.disconnect();
    }
  }

  async destroy(): Promise<void> {
    await Promise.all(
      this.children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
  }
}
