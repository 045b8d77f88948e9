import { expect } from 'vitest';
import { beijingDate } from '../../src/domain/reconciliation/bill-date.js';
import type { ReconciliationView } from '../../src/domain/reconciliation/report.js';
import { eventually } from '../../src/sandbox/testing.js';
import type { TestSystem } from '../helpers/system.js';

/** Shared steps of the reconciliation tests: a sandbox clock a day back, runs over the admin API. */
export const DAY_MS = 86_400_000;
export const yesterday = () => beijingDate(new Date(Date.now() - DAY_MS));

/** What the sandbox does from now on lands on `days` days ago (its bill of that day then has it). */
export async function sandboxDaysBack(s: TestSystem, days: number): Promise<void> {
  const res = await s.sandbox.control('POST', '/sandbox/clock', { offset_ms: -days * DAY_MS });
  expect(res.status).toBe(200);
}

export async function requestRun(s: TestSystem, billDate: string): Promise<{ billDate: string; state: string }> {
  const res = await s.app.inject({ method: 'POST', url: `/admin/seckill/reconciliations/${billDate}/run`, headers: s.admin });
  expect(res.statusCode, res.body).toBe(202);
  return res.json();
}

export async function report(s: TestSystem, billDate: string): Promise<ReconciliationView | undefined> {
  const res = await s.app.inject({ method: 'GET', url: `/admin/seckill/reconciliations/${billDate}`, headers: s.admin });
  if (res.statusCode === 404) return undefined;
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

/** Run a day over the API and wait until its run finished (SUCCEEDED or FAILED) after `runs` runs. */
export async function runDay(s: TestSystem, billDate: string, timeoutMs = 20_000): Promise<ReconciliationView> {
  const before = (await report(s, billDate))?.runs ?? 0;
  await requestRun(s, billDate);
  return eventually(async () => {
    const view = await report(s, billDate);
    return view && view.runs > before && view.status !== 'RUNNING' ? view : undefined;
  }, timeoutMs, 100);
}

/** Wait until the day's report says SUCCEEDED (a run in flight, or retried after WeChat errors). */
export const untilSucceeded = (s: TestSystem, billDate: string, timeoutMs: number, intervalMs = 100): Promise<ReconciliationView> =>
  eventually(async () => {
    const view = await report(s, billDate);
    return view?.status === 'SUCCEEDED' ? view : undefined;
  }, timeoutMs, intervalMs);
