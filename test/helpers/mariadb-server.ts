import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as mariadb from 'mariadb';
import { freePort } from './redis-server.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** mariadbd refuses to run as root unless told to; as anyone else `--user` must name ourselves. */
const USER = userInfo().username;

/**
 * Server options shared by `mariadb-install-db` and every `mariadbd` we start: small InnoDB files
 * and buffers (start-up time, disk), no binlog, no name resolution, and the charset of the
 * machine's shared server (/etc/mysql/my.cnf: utf8mb4 / utf8mb4_general_ci), because with
 * `--no-defaults` the compiled-in default would be latin1.
 */
const SERVER_OPTIONS = [
  `--user=${USER}`,
  '--skip-name-resolve',
  '--skip-log-bin',
  '--character-set-server=utf8mb4',
  '--collation-server=utf8mb4_general_ci',
  '--innodb-buffer-pool-size=32M',
  '--innodb-log-file-size=8M',
];

/**
 * An initialised datadir (system tables, root@localhost / root@127.0.0.1 with an empty password),
 * made once per process; every server copies it instead of running `mariadb-install-db` again
 * (≈ 1.5–2 s alone, 3–5 s when several test files start at once).
 */
let template: Promise<string> | undefined;

function datadirTemplate(): Promise<string> {
  template ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'seckill-mariadb-template-'));
    cleanupOnExit.dirs.add(dir);
    const datadir = join(dir, 'data');
    try {
      await run('mariadb-install-db', ['--no-defaults', `--datadir=${datadir}`, '--auth-root-authentication-method=normal', '--skip-test-db', ...SERVER_OPTIONS], {
        cwd: dir,
        timeout: 60_000,
      });
    } catch (err) {
      template = undefined;
      rmSync(dir, { recursive: true, force: true });
      cleanupOnExit.dirs.delete(dir);
      const e = err as Error & { stdout?: string; stderr?: string };
      throw new Error(`mariadb-install-db failed: ${e.message}\n${(e.stdout ?? '').slice(-2000)}${(e.stderr ?? '').slice(-2000)}`, { cause: err });
    }
    return datadir;
  })();
  return template;
}

/**
 * What must not outlive the test process: live servers (killed first) and temp dirs. Best effort:
 * on a normal exit, and on the SIGTERM vitest sends a fork when it is done with it (SIGKILL
 * follows 500 ms later), after which the signal is raised again unless someone else handles it.
 */
const cleanupOnExit = { children: new Set<ChildProcess>(), dirs: new Set<string>() };
function cleanUp(): void {
  for (const child of cleanupOnExit.children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  cleanupOnExit.children.clear();
  for (const dir of cleanupOnExit.dirs) rmSync(dir, { recursive: true, force: true });
  cleanupOnExit.dirs.clear();
}
process.once('exit', cleanUp);
process.once('SIGTERM', () => {
  cleanUp();
  if (process.listenerCount('SIGTERM') === 0) process.kill(process.pid, 'SIGTERM');
});

/**
 * A private mariadbd on its own loopback port and temp datadir, for tests that take MySQL down
 * (the machine's shared MariaDB on 127.0.0.1:3306 serves every other test file at the same time
 * and must never be stopped).
 *
 * `stop()` is a hard kill (SIGKILL, like a crash or an outage); `resume()` starts the server
 * again on the same port with the same datadir, so committed data survives (InnoDB recovers).
 * Connect as root with no password, over TCP: `url` has no database in it.
 */
export class PrivateMariaDb {
  readonly dir = mkdtempSync(join(tmpdir(), 'seckill-mariadb-'));
  readonly datadir = join(this.dir, 'data');
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private alive = false;

  private constructor(readonly port: number) {
    cleanupOnExit.dirs.add(this.dir);
  }

  /** A fresh server: ≈ 0.6 s once this process has a datadir template, ≈ 2.5 s for the first one. */
  static async start(): Promise<PrivateMariaDb> {
    const server = new PrivateMariaDb(await freePort());
    try {
      cpSync(await datadirTemplate(), server.datadir, { recursive: true });
      await server.spawn();
    } catch (err) {
      await server.destroy();
      throw err;
    }
    return server;
  }

  get url(): string {
    return `mysql://root@127.0.0.1:${this.port}`;
  }

  /** Start mariadbd again after `stop()`: same port, same data (crash recovery runs first). */
  async resume(timeoutMs = 30_000): Promise<void> {
    if (this.alive) return;
    await this.spawn(timeoutMs);
  }

  /** Kill the server (SIGKILL: no clean shutdown, an outage) and wait until it is gone. Idempotent. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.alive) return;
    child.kill('SIGKILL');
    await this.exited;
  }

  /** Stop the server and remove its directory. */
  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
    cleanupOnExit.dirs.delete(this.dir);
  }

  private async spawn(timeoutMs = 30_000): Promise<void> {
    const child = spawn(
      'mariadbd',
      [
        '--no-defaults',
        `--datadir=${this.datadir}`,
        '--bind-address=127.0.0.1',
        `--port=${this.port}`,
        `--socket=${join(this.dir, 'mysqld.sock')}`,
        `--pid-file=${join(this.dir, 'mysqld.pid')}`,
        `--log-error=${join(this.dir, 'error.log')}`,
        `--tmpdir=${this.dir}`,
        ...SERVER_OPTIONS,
        '--innodb-flush-log-at-trx-commit=2', // a killed process loses nothing: the OS has the log
        '--innodb-doublewrite=0',
        '--innodb-temp-data-file-path=ibtmp1:1M:autoextend',
        '--innodb-buffer-pool-load-at-startup=0',
        '--innodb-buffer-pool-dump-at-shutdown=0',
      ],
      { cwd: this.dir, stdio: 'ignore' },
    );
    this.child = child;
    this.alive = true;
    cleanupOnExit.children.add(child);
    let spawnError: Error | undefined;
    this.exited = new Promise((resolve) => {
      const gone = () => {
        this.alive = false;
        cleanupOnExit.children.delete(child);
        resolve();
      };
      child.once('exit', gone);
      child.once('error', (err) => {
        spawnError = err;
        gone();
      });
    });

    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      if (spawnError) throw new Error(`mariadbd on ${this.port} did not spawn: ${spawnError.message}`);
      if (!this.alive) throw new Error(`mariadbd on ${this.port} exited (${child.exitCode ?? child.signalCode})${this.logTail()}`);
      try {
        const conn = await mariadb.createConnection({ host: '127.0.0.1', port: this.port, user: 'root', connectTimeout: 1000 });
        await conn.end();
        return;
      } catch (err) {
        lastError = err;
      }
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`mariadbd on ${this.port} not accepting connections after ${timeoutMs} ms: ${String(lastError)}${this.logTail()}`);
      }
      await sleep(50);
    }
  }

  private logTail(): string {
    try {
      const file = join(this.dir, 'error.log');
      return `\n--- ${file}\n${readFileSync(file, 'utf8').slice(-3000)}`;
    } catch {
      return '';
    }
  }
}
