import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/redis-server.js';

/**
 * The entry points' start-up check of a cluster REDIS_URL (src/infra/context.ts,
 * waitForRedisOrExit): a node list that never answers stops the process after the check's 10 s
 * of retries, with one fatal line naming every node and its error. (What the check says about
 * non-cluster nodes and nodes of another cluster: test/cluster/flows.test.ts.)
 */
describe('a worker started with a cluster REDIS_URL whose nodes do not answer', () => {
  it('exits 1 naming each node', { timeout: 90_000 }, async () => {
    const [a, b] = [await freePort(), await freePort()];
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/workers/main.ts'], {
      cwd: process.cwd(),
      // AMQP connects meanwhile (the machine's broker) but declares nothing before a first publish; MySQL is not asked
      env: { ...process.env, REDIS_URL: `redis+cluster://127.0.0.1:${a},127.0.0.1:${b}`, QUEUE_SHARDS: '3', WORKER_METRICS_PORT: '0', LOG_LEVEL: 'info', CI: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code, out).toBe(1);
    const fatal = out.split('\n').find((line) => line.includes('"level":60'));
    expect(fatal, out).toMatch(new RegExp(`not reachable: 127\\.0\\.0\\.1:${a} \\(connect ECONNREFUSED[^)]*\\), 127\\.0\\.0\\.1:${b} \\(connect ECONNREFUSED`));
    expect(fatal).toContain("check REDIS_URL's node list");
  });
});
