import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { Connection } from 'rabbitmq-client';
import { afterAll, describe, expect, it } from 'vitest';
import { withDatabase } from '../../src/infra/db/connection-url.js';
import { eventually } from '../../src/sandbox/testing.js';
import { TEST_SERVER_URL, dropDatabase, uniqueDatabaseName } from '../helpers/db.js';
import { isolatedNames } from '../helpers/app.js';
import { freePort } from '../helpers/redis-server.js';

/**
 * `npm start` as a person or a CI runner starts it, stopped the way `timeout`, systemd and CI
 * runners stop it: a signal to npm's own pid. npm 11 forwards SIGTERM only to the `sh -c` the
 * script runs in, and SIGHUP to nobody; either way every process of the system must stop and
 * free its port. Its own database, Redis prefixes, AMQP names and ports, removed afterwards.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const REDIS_URL = 'redis://127.0.0.1:6379';
const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';

/** Every process below `pid` (Linux /proc), found while they run. */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited meanwhile
    }
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.shift();
    for (const [child, parent] of parentOf) {
      if (parent !== next) continue;
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/** Gone, or a zombie nobody reaped yet (it has exited all the same). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

interface Started {
  npm: ChildProcess;
  ports: number[];
  output: () => string;
  exited: Promise<void>;
}

describe.skipIf(process.platform !== 'linux')('npm start stops everything however it is stopped', () => {
  const id = randomBytes(4).toString('hex');
  const database = uniqueDatabaseName();
  const names = isolatedNames('t', 'test', id);
  const leftovers = new Set<number>();

  async function startSystem(): Promise<Started> {
    const [port, sandboxPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
    const npm = spawn('npm', ['start'], {
      cwd: root,
      env: {
        ...process.env,
        ...names,
        PORT: String(port),
        SANDBOX_PORT: String(sandboxPort),
        WORKER_METRICS_PORT: String(metricsPort),
        DATABASE_URL: withDatabase(TEST_SERVER_URL, database),
        REDIS_URL,
        AMQP_URL,
        LOG_LEVEL: 'info',
        NODE_ENV: 'development',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      // its own process group, as a terminal gives it: Ctrl-C signals the whole group
      detached: true,
    });
    let text = '';
    npm.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString()));
    npm.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
    const exited = new Promise<void>((resolve) => npm.once('exit', () => resolve()));
    await eventually(() => (text.includes('seckill-timeout is running') ? true : undefined), 120_000, 200).catch(() => {
      throw new Error(`npm start did not come up:\n${text}`);
    });
    return { npm, ports: [port, sandboxPort, metricsPort], output: () => text, exited };
  }

  /** Stops the system `how`, then: npm gone, every process it had gone, every port closed. */
  async function expectAllStopped(started: Started, how: string, stop: (pids: number[]) => void, launcherSurvives = true): Promise<void> {
    const { npm, ports } = started;
    // the banner comes once the API answers; the worker's metrics port may open a moment later
    await eventually(async () => ((await Promise.all(ports.map(listening))).every(Boolean) ? true : undefined), 60_000, 200);
    const pids = descendants(npm.pid ?? 0);
    // sh, the launcher, sandbox, API, worker (and their esbuild helpers)
    expect(pids.length).toBeGreaterThanOrEqual(4);
    for (const pid of pids) leftovers.add(pid);

    stop(pids);
    await started.exited;
    await eventually(async () => {
      const alive = pids.filter(running);
      const open = (await Promise.all(ports.map(listening))).some(Boolean);
      return alive.length === 0 && !open ? true : undefined;
    }, 30_000, 200).catch(() => {
      throw new Error(`still running after ${how}: ${pids.filter(running).join(', ')}\n${started.output().slice(-3000)}`);
    });
    for (const pid of pids) leftovers.delete(pid);
    if (launcherSurvives) expect(started.output()).toContain('all processes stopped');
  }

  const launcherOf = (pids: number[]) =>
    pids.find((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('src/cli/start.ts');
      } catch {
        return false;
      }
    });

  afterAll(async () => {
    for (const pid of leftovers) if (running(pid)) process.kill(pid, 'SIGKILL');
    await dropDatabase(database);
    const redis = new Redis(REDIS_URL, { lazyConnect: true });
    await redis.connect();
    for (const pattern of [`${names.KEY_PREFIX}:*`, `${names.QUEUE_PREFIX}:*`]) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
    }
    await redis.quit();
    const amqp = new Connection(AMQP_URL);
    const channel = await amqp.acquire();
    await channel.queueDelete({ queue: names.AMQP_QUEUE ?? '' });
    await channel.queueDelete({ queue: names.AMQP_DEAD_LETTER_QUEUE ?? '' });
    await channel.exchangeDelete({ exchange: names.AMQP_EXCHANGE ?? '' });
    await channel.close();
    await amqp.close();
  }, 60_000);

  it('kill -TERM <npm pid>: npm passes it to its shell only; the launcher notices and stops every process', { timeout: 180_000 }, async () => {
    const started = await startSystem();
    await expectAllStopped(started, 'SIGTERM to npm', () => started.npm.kill('SIGTERM'));
  });

  it('kill -HUP <npm pid> (a closed terminal): npm dies alone; the launcher notices and stops every process', { timeout: 180_000 }, async () => {
    const started = await startSystem();
    await expectAllStopped(started, 'SIGHUP to npm', () => started.npm.kill('SIGHUP'));
  });

  it('Ctrl-C (SIGINT to the whole foreground process group): the launcher stops each process once', { timeout: 180_000 }, async () => {
    const started = await startSystem();
    await expectAllStopped(started, 'SIGINT to the group', () => process.kill(-(started.npm.pid ?? 0), 'SIGINT'));
  });

  it('kill -9 <launcher pid>: each process notices its launcher is gone and stops by itself', { timeout: 180_000 }, async () => {
    const started = await startSystem();
    const stop = (pids: number[]) => {
      const launcher = launcherOf(pids);
      expect(launcher).toBeDefined();
      process.kill(launcher ?? 0, 'SIGKILL');
    };
    await expectAllStopped(started, 'SIGKILL to the launcher', stop, false);
  });
});
