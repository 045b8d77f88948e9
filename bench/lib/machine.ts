import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { type RedisClient, mastersOf } from '../../src/infra/redis/client.js';

/** What a benchmark ran on, for BENCHMARKS.md. */
export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  redis: string;
  os: string;
}

function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
    if (line) return line.split(':')[1]!.trim();
  } catch {
    // not Linux: fall back to what Node reports
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

export async function describeMachine(redis: RedisClient): Promise<Machine> {
  const info = await mastersOf(redis)[0]!.info('server');
  return {
    cpus: os.availableParallelism(),
    cpuModel: cpuModel(),
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    redis: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
    os: `${os.type()} ${os.release()}`,
  };
}

/** Redis server CPU seconds (user + sys) so far, of every master of a cluster: the difference over a run is Redis's share. */
export async function redisCpuSeconds(redis: RedisClient): Promise<number> {
  const seconds = await Promise.all(
    mastersOf(redis).map(async (master) => {
      const info = await master.info('cpu');
      const field = (name: string) => Number(new RegExp(`${name}:(\\S+)`).exec(info)?.[1] ?? 0);
      return field('used_cpu_user') + field('used_cpu_sys');
    }),
  );
  return seconds.reduce((a, b) => a + b, 0);
}

let ticksPerSecond: number | undefined;

/** CPU seconds (user + system) a process has used, from /proc; NaN where that is not readable. */
export function cpuSeconds(pid: number): number {
  try {
    ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the parenthesised command name; utime and stime are fields 14 and 15
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  } catch {
    return Number.NaN;
  }
}

/**
 * The pid of a named server process on this machine (mariadbd, beam.smp), if there is one: the
 * oldest, i.e. the machine's own server rather than a private one a test started.
 */
export function pidOf(program: string): number | undefined {
  try {
    const out = execFileSync('pgrep', ['-o', '-x', program], { encoding: 'utf8' }).trim();
    return out ? Number(out) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds so far of the servers a benchmark leans on: Redis (INFO, every master), and the
 * machine's own RabbitMQ and MariaDB (from /proc; absent when they run elsewhere).
 */
export async function serverCpuSeconds(redis: RedisClient): Promise<{ redis: number; rabbitmq?: number; mariadb?: number }> {
  const rabbit = pidOf('beam.smp');
  const mariadb = pidOf('mariadbd') ?? pidOf('mysqld');
  return {
    redis: await redisCpuSeconds(redis),
    ...(rabbit ? { rabbitmq: cpuSeconds(rabbit) } : {}),
    ...(mariadb ? { mariadb: cpuSeconds(mariadb) } : {}),
  };
}
