import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** Ports this process has handed out: the OS may offer a just-closed port again at once. */
const handedOut = new Set<number>();

/**
 * A free loopback TCP port (the OS picks it), never one this process handed out before: callers
 * take several in a row (API, sandbox, metrics) before anything listens on them, and the OS may
 * offer the same just-released port twice.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/**
 * Wait until the redis-server on loopback `port` answers PING (after LOADING an AOF, too).
 * `exited` says whether the process already died, so a crash at start-up fails at once. A fresh
 * client per attempt: a client whose connect failed does not reliably connect again.
 */
export async function waitUntilServing(port: number, exited: () => boolean, timeoutMs = 5_000, tls?: { ca: string }): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited()) throw new Error(`redis-server on ${port} exited while starting`);
    const probe = new Redis({ host: '127.0.0.1', port, ...(tls ? { tls } : {}), lazyConnect: true, connectTimeout: 500, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      if ((await probe.ping()) === 'PONG') return;
    } catch {
      if (Date.now() > deadline) throw new Error(`redis-server on ${port} not serving after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      probe.disconnect();
    }
  }
}

/**
 * A private redis-server on its own loopback port, for tests that flush or restart Redis
 * (the machine's shared Redis is used by other test files at the same time).
 */
export class PrivateRedis {
  private child: ChildProcess | undefined;
  readonly dir = mkdtempSync(join(tmpdir(), 'seckill-redis-'));

  private constructor(readonly port: number) {}

  static async start(): Promise<PrivateRedis> {
    const server = new PrivateRedis(await freePort());
    await server.spawn();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  private async spawn(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir], { stdio: 'ignore' });
    this.child = child;
    await waitUntilServing(this.port, () => child.exitCode !== null);
  }

  /** Kill and start again on the same port: everything in memory is gone, like a restart without persistence. */
  async restart(): Promise<void> {
    await this.stop();
    await this.spawn();
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
