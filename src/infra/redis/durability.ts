import type { Redis } from 'ioredis';

/**
 * design §3/§8: Redis holds every unpaid order, timer, outbox entry and acked payment job, so it
 * must persist (`appendonly yes`) and never evict (`maxmemory-policy noeviction`, BullMQ's rule).
 * Read with CONFIG GET, or from INFO where CONFIG is disabled (managed Redis services).
 * Returns what is wrong, each with its fix; empty when Redis is fit for production.
 */
export async function redisDurabilityProblems(redis: Redis): Promise<string[]> {
  let appendonly: string | undefined;
  let policy: string | undefined;
  try {
    const [, aof] = (await redis.config('GET', 'appendonly')) as [string, string];
    const [, eviction] = (await redis.config('GET', 'maxmemory-policy')) as [string, string];
    appendonly = aof;
    policy = eviction;
  } catch {
    const info = `${await redis.info('persistence')}\n${await redis.info('memory')}`;
    const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
    appendonly = field('aof_enabled') === '1' ? 'yes' : field('aof_enabled') === '0' ? 'no' : undefined;
    policy = field('maxmemory_policy');
  }
  const problems: string[] = [];
  if (appendonly !== 'yes') {
    problems.push(`Redis runs with appendonly ${appendonly ?? 'unknown'}: a restart loses every unpaid order, timer and queued payment; set appendonly yes`);
  }
  if (policy !== 'noeviction') {
    problems.push(`Redis maxmemory-policy is ${policy ?? 'unknown'}: under memory pressure it may evict orders and jobs; set maxmemory-policy noeviction`);
  }
  return problems;
}
