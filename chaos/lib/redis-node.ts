import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, waitUntilServing } from '../../test/helpers/redis-server.js';

/**
 * A private redis-server configured as production should be (AOF on, `appendfsync everysec`,
 * `maxmemory-policy noeviction`), on its own loopback port and data directory, so the chaos suite
 * can stop it in the two ways a Redis goes down: `SHUTDOWN` (a clean stop: the AOF is fsynced)
 * and `kill -9` (a crash: up to one second of writes may be missing after the restart).
 * `start()` again brings it back on the same port with the same data.
 */
export class DurableRedis {
  readonly dir = mkdtempSync(join(tmpdir(), 'seckill-chaos-redis-'));
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(readonly port: number) {}

  static async create(): Promise<DurableRedis> {
    const node = new DurableRedis(await freePort());
    await node.start();
    return node;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(timeoutMs = 30_000): Promise<void> {
    if (this.running) return;
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', '--maxmemory-policy', 'noeviction', '--logfile', join(this.dir, 'redis.log')];
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    // (LOADING while the AOF is replayed: not serving yet)
    await waitUntilServing(this.port, () => !this.running, timeoutMs).catch((err: Error) => {
      throw new Error(`${err.message}; see ${join(this.dir, 'redis.log')}`);
    });
  }

  /** `SHUTDOWN` (AOF fsynced, then exit): what `systemctl stop redis` does. */
  async shutdown(): Promise<void> {
    if (!this.running) return;
    const client = new Redis(this.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => undefined);
    await client.call('SHUTDOWN').catch(() => undefined); // the connection drops as it exits
    client.disconnect();
    await this.exited;
  }

  /** `kill -9`: a crash. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child?.kill('SIGKILL');
    await this.exited;
  }

  async destroy(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
