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
