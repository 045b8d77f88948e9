import type { Redis } from 'ioredis';

/** Shared by the benchmark scripts: settings from the environment and cleaning up after a run. */

export function intEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer (got ${JSON.stringify(raw)})`);
  return value;
}

/** Deletes every key matching the patterns (SCAN + UNLINK); returns how many. */
export async function deleteKeys(redis: Redis, patterns: string[]): Promise<number> {
  let deleted = 0;
  for (const pattern of patterns) {
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 2000);
      cursor = next;
      if (found.length) deleted += await redis.unlink(...found);
    } while (cursor !== '0');
  }
  return deleted;
}

export { freePort } from '../../test/helpers/redis-server.js';
