import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { histogram, percentiles } from '../../demo/chart.js';

/** `npm run demo`, small: a whole sale through separate processes, its report and its exit code. */
function demo(args: string[]): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'demo/run.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out })));
}

describe('npm run demo', () => {
  it('a small flash sale settles with every invariant holding, and says so', async () => {
    const { code, out } = await demo(['--buyers', '60', '--units', '20', '--pay', '0.5', '--cancel', '0.2', '--window', '5']);
    expect(out, out).toContain('All invariants hold.');
    // a unit cancelled during the rush is back on sale and may be grabbed again: ≥ 20 orders
    const rush = /buyers\s+60\s+\((\d+) got an order, (\d+) found it sold out\)/.exec(out);
    expect(rush, out).not.toBeNull();
    expect(Number(rush![1]) + Number(rush![2])).toBe(60);
    expect(Number(rush![1])).toBeGreaterThanOrEqual(20);
    expect(out).toMatch(/units\s+20 = \d+ sold \+ \d+ available \+ 0 held/);
    for (const check of ['every order PAID or CLOSED', 'the WeChat ledger agrees', 'each order closed at most once', 'durable stock = available + held']) expect(out).toContain(`✓ ${check}`);
    expect(out).toMatch(/Close lateness of \d+ timed-out orders/);
    expect(code, out).toBe(0);
  }, 240_000);

  it('bad options: a clear message, exit 2, nothing started', async () => {
    const { code, out } = await demo(['--pay', '0.8', '--cancel', '0.5']);
    expect(code).toBe(2);
    expect(out).toContain('--pay + --cancel must be at most 1');
    const zero = await demo(['--units', '0']);
    expect(zero.code).toBe(2);
    expect(zero.out).toContain('--units must be an integer from 1 to 100000 (got 0)');
    const unknown = await demo(['--stock', '5']);
    expect(unknown.code).toBe(2);
    expect(unknown.out).toMatch(/Unknown option '--stock'[\s\S]*usage: npm run demo/);
  }, 60_000);

  it('the lateness chart: doubling buckets, bars scaled to the fullest, percentiles', () => {
    const sorted = [1, 2, 3, 30, 40, 300];
    expect(percentiles(sorted, [0.5, 0.99])).toEqual([30, 300]);
    const rows = histogram(sorted, 10);
    expect(rows[0]).toMatch(/0 ms–25 ms █{10} 3$/);
    expect(rows[1]).toMatch(/25 ms–50 ms █{7} 2$/);
    expect(rows.at(-1)).toMatch(/200 ms–400 ms █{3} 1$/);
    expect(histogram([])).toEqual(['  (no orders closed by timeout)']);
  });
});
