import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, type Socket, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './redis-server.js';

const run = promisify(execFile);

/**
 * A private RabbitMQ node for tests that stop and restart the broker (the machine's shared node
 * on 5672 serves every other test file at the same time and must never be touched).
 *
 * The node gets its own name (`test-<rand>@localhost`), AMQP and distribution ports picked by
 * the OS, and a temp directory holding its data (mnesia), logs, an Erlang cookie (HOME), an
 * empty plugin list (no management/prometheus listeners to collide with the shared node) and a
 * config file of its own, so nothing under /etc/rabbitmq (which pins 127.0.0.1:5672) applies.
 * `stop()` then `start()` restarts it on the same ports with the same data: durable queues and
 * persistent messages survive, exactly like a broker restart in production.
 */

// The Debian wrapper in /usr/sbin re-executes the scripts as the `rabbitmq` user through `su`,
// which drops our environment; the scripts themselves run as any user.
const BIN_DIR = process.env.RABBITMQ_BIN_DIR ?? (existsSync('/usr/lib/rabbitmq/bin/rabbitmq-server') ? '/usr/lib/rabbitmq/bin' : '');
const bin = (name: string) => (BIN_DIR ? join(BIN_DIR, name) : name);

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class RabbitMqNode {
  readonly dir = mkdtempSync(join(tmpdir(), 'seckill-rabbitmq-'));
  readonly nodeName = `test-${randomBytes(4).toString('hex')}@localhost`;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly port: number,
    readonly distPort: number,
  ) {
    writeFileSync(join(this.dir, 'enabled_plugins'), '[].\n');
    writeFileSync(join(this.dir, 'rabbitmq-env.conf'), '');
    writeFileSync(join(this.dir, 'rabbitmq.conf'), [`listeners.tcp.1 = 127.0.0.1:${port}`, 'log.console = false', 'log.file.level = warning', ''].join('\n'));
  }

  /** Start a fresh node (≈ 5–10 s on this machine). */
  static async start(): Promise<RabbitMqNode> {
    const port = await freePort();
    const distPort = await freePort(); // never the same as `port` (freePort hands each out once)
    const node = new RabbitMqNode(port, distPort);
    try {
      await node.start();
    } catch (err) {
      await node.destroy();
      throw err;
    }
    return node;
  }

  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  /** Only what a node of ours needs; nothing inherited from a RABBITMQ_* / ERL_* of the caller. */
  private env(): NodeJS.ProcessEnv {
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RABBITMQ_') && !k.startsWith('ERL_')));
    return {
      ...base,
      HOME: this.dir, // the Erlang cookie lives here; rabbitmqctl finds the same one
      RABBITMQ_NODENAME: this.nodeName,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(this.port),
      RABBITMQ_DIST_PORT: String(this.distPort),
      RABBITMQ_MNESIA_BASE: join(this.dir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(this.dir, 'log'),
      RABBITMQ_PID_FILE: join(this.dir, 'node.pid'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(this.dir, 'enabled_plugins'),
      RABBITMQ_CONFIG_FILE: join(this.dir, 'rabbitmq.conf'),
      RABBITMQ_ADVANCED_CONFIG_FILE: join(this.dir, 'advanced.config'),
      RABBITMQ_CONF_ENV_FILE: join(this.dir, 'rabbitmq-env.conf'),
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
      ERL_EPMD_ADDRESS: '127.0.0.1',
    };
  }

  /** Start (or start again, with the same data) and wait until the AMQP port accepts connections. */
  async start(timeoutMs = 60_000): Promise<void> {
    if (this.child && this.child.exitCode === null) return;
    const output: string[] = [];
    const child = spawn(bin('rabbitmq-server'), [], { cwd: this.dir, env: this.env(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await portOpen(this.port)) return;
      const failed = await Promise.race([spawnError, sleep(200).then(() => undefined)]);
      if (failed || child.exitCode !== null || Date.now() > deadline) {
        this.killGroup();
        const why = failed ? failed.message : child.exitCode !== null ? `exited with ${child.exitCode}` : `not listening after ${timeoutMs} ms`;
        throw new Error(`rabbitmq node ${this.nodeName} on ${this.port}: ${why}\n${output.join('').slice(-3000)}${this.logTail()}`);
      }
    }
  }

  /** A clean broker shutdown (`rabbitmqctl stop`), then wait until the process is gone. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    try {
      await run(bin('rabbitmqctl'), ['-n', this.nodeName, 'stop'], { env: this.env(), cwd: this.dir, timeout: 30_000 });
    } catch {
      this.killGroup('SIGTERM');
    }
    const gone = await Promise.race([this.exited.then(() => true), sleep(30_000).then(() => false)]);
    if (!gone) {
      this.killGroup('SIGKILL');
      await this.exited;
    }
    for (let i = 0; i < 100 && (await portOpen(this.port)); i += 1) await sleep(100);
  }

  /** Stop the node (killing it if it does not stop) and remove its directory. */
  async destroy(): Promise<void> {
    await this.stop().catch(() => this.killGroup('SIGKILL'));
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Signal the process group we spawned (the start script, beam and its port programs), by id. */
  private killGroup(signal: NodeJS.Signals = 'SIGKILL'): void {
    const pid = this.child?.pid;
    if (!pid || this.child?.exitCode !== null) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // already gone
    }
  }

  private logTail(): string {
    try {
      const file = join(this.dir, 'log', `${this.nodeName}.log`);
      return `\n--- ${file}\n${readFileSync(file, 'utf8').slice(-3000)}`;
    } catch {
      return '';
    }
  }
}

/**
 * A loopback TCP proxy in front of an AMQP port, so a test can cut one client (say, the worker's
 * bridge) off the broker while the broker itself, and every other client, stays up. While cut,
 * open connections are destroyed and new ones are accepted and closed at once, so the client
 * keeps retrying with its own backoff, as it would against an unreachable broker.
 */
export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;
  private cut = false;

  private constructor(
    readonly port: number,
    private readonly targetPort: number,
  ) {
    this.server = createServer((client) => this.accept(client));
  }

  static async start(targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(await freePort(), targetPort);
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(proxy.port, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  url(user = 'guest', password = 'guest'): string {
    return `amqp://${user}:${password}@127.0.0.1:${this.port}`;
  }

  /** Drop every connection through the proxy and refuse new ones until `restore()`. */
  block(): void {
    this.cut = true;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  restore(): void {
    this.cut = false;
  }

  async close(): Promise<void> {
    this.block();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (this.cut) {
      client.destroy();
      return;
    }
    const upstream = connect({ host: '127.0.0.1', port: this.targetPort });
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
