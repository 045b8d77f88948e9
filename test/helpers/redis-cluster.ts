import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
 *
 * `tls: true`: every node serves TLS only (clients and the cluster bus), with a certificate for
 * 127.0.0.1 signed by a CA made for the run (openssl); `caFile` is that CA, for REDIS_TLS_CA_FILE.
 */
export class PrivateRedisCluster {
  private readonly children: ChildProcess[] = [];
  private readonly dirs: string[] = [];
  private certs: TestCertificates | undefined;

  private constructor(readonly ports: number[]) {}

  /** `join: false` leaves the nodes apart (each its own cluster without slots: a bad-input case). */
  static async start(masters = 3, { join = true, tls = false }: { join?: boolean; tls?: boolean } = {}): Promise<PrivateRedisCluster> {
    const ports: number[] = [];
    // freePort closes its probe at once: two calls may hand out one port, so ask until distinct
    while (ports.length < masters) {
      const port = await freePort();
      // the cluster bus listens on port + 10000: keep that in range too
      if (!ports.includes(port) && port + 10_000 <= 65_535) ports.push(port);
    }
    const cluster = new PrivateRedisCluster(ports);
    try {
      if (tls) cluster.certs = await makeCertificates(cluster.tempDir('seckill-cluster-tls-'));
      await Promise.all(ports.map((port) => cluster.spawn(port)));
      if (join) {
        const tlsArgs = cluster.certs ? ['--tls', '--cacert', cluster.certs.caFile] : [];
        await run('redis-cli', [...tlsArgs, '--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
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
    return `${this.certs ? 'rediss' : 'redis'}+cluster://${this.ports.map((p) => `127.0.0.1:${p}`).join(',')}`;
  }

  /** The CA that signed a TLS cluster's certificates (PEM file). */
  get caFile(): string {
    if (!this.certs) throw new Error('not a TLS cluster');
    return this.certs.caFile;
  }

  /** A connection to one node (to look at what that master holds), over TLS on a TLS cluster. */
  node(port: number): Redis {
    return new Redis({ host: '127.0.0.1', port, ...this.clientTls(), maxRetriesPerRequest: 1, lazyConnect: false });
  }

  private clientTls(): { tls: { ca: string } } | Record<string, never> {
    return this.certs ? { tls: { ca: readFileSync(this.certs.caFile, 'utf8') } } : {};
  }

  private tempDir(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }

  private async spawn(port: number): Promise<void> {
    const dir = this.tempDir('seckill-cluster-');
    const listen = this.certs
      ? ['--port', '0', '--tls-port', String(port), '--tls-cluster', 'yes', '--tls-auth-clients', 'no', '--tls-cert-file', this.certs.certFile, '--tls-key-file', this.certs.keyFile, '--tls-ca-cert-file', this.certs.caFile]
      : ['--port', String(port)];
    const child = spawn(
      'redis-server',
      [...listen, '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000', '--save', '', '--appendonly', 'no', '--dir', dir],
      { stdio: 'ignore' },
    );
    this.children.push(child);
    const tls = this.clientTls();
    await waitUntilServing(port, () => child.exitCode !== null, 5_000, 'tls' in tls ? tls.tls : undefined);
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

interface TestCertificates {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** A CA and a server certificate for 127.0.0.1 (and localhost) signed by it, in `dir`. */
async function makeCertificates(dir: string): Promise<TestCertificates> {
  const f = (name: string) => join(dir, name);
  const ssl = (...args: string[]) => run('openssl', args, { cwd: dir, timeout: 30_000 });
  await ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=seckill test CA', '-keyout', f('ca.key'), '-out', f('ca.pem'));
  writeFileSync(f('san.ext'), 'subjectAltName = IP:127.0.0.1, DNS:localhost\n');
  await ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', f('server.key'), '-out', f('server.csr'));
  await ssl(
    'x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2',
    '-extfile', f('san.ext'), '-out', f('server.pem'),
  );
  return { caFile: f('ca.pem'), certFile: f('server.pem'), keyFile: f('server.key') };
}
