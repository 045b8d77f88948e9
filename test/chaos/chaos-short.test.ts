import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/**
 * CI's slice of `npm run chaos`: three experiments at a tenth of their size, as a user would run
 * them (a child process with its own private Redis, RabbitMQ node and MariaDB). The whole suite
 * takes several minutes and runs outside `npm test`; its figures are in RELIABILITY.md.
 */
const ONLY = ['redis-restart', 'mariadb-outage', 'bad-input'];

describe('npm run chaos -- --short (CI slice)', () => {
  it(`${ONLY.join(', ')}: every invariant holds`, async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'chaos/run.ts', '--short', '--only', ONLY.join(',')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(out, out).toContain(`${ONLY.length} passed, 0 failed`);
    for (const name of ONLY) expect(out).toMatch(new RegExp(`PASS\\s+${name}`));
    expect(code, out).toBe(0);
  }, 600_000);
});
