import { cpus, loadavg, totalmem } from 'node:os';
import type { ExperimentResult } from './experiment.js';

/** One line per experiment, the figures users compare, and the RELIABILITY.md table. */

export interface RunRecord {
  name: string;
  title: string;
  passed: boolean;
  seconds: number;
  result?: ExperimentResult;
  error?: string;
}

export const allViolations = (r: RunRecord): string[] => (r.error ? [r.error] : [...(r.result?.violations ?? []), ...(r.result?.verdict.violations ?? [])]);

const fmtMs = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(0)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);

export function line(r: RunRecord): string {
  const head = `${r.passed ? 'PASS' : 'FAIL'}  ${r.name.padEnd(22)}`;
  if (!r.result) return `${head} ${r.error ?? ''}`;
  const x = r.result;
  const c = x.verdict.counts;
  const extra = Object.entries(x.figures)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const base = `${head} orders ${x.orders} (paid ${c.PAID ?? 0}, closed ${c.CLOSED ?? 0}), faults ${x.faults}, drain ${fmtMs(x.drainMs)}, max overdue ${fmtMs(x.maxOverdueMs)}, close lateness p99 ${fmtMs(x.verdict.p99CloseLatenessMs)} max ${fmtMs(x.verdict.maxCloseLatenessMs)}, violations ${allViolations(r).length}${extra ? `, ${extra}` : ''} [${r.seconds.toFixed(0)} s]`;
  return r.passed ? base : `${base}\n${allViolations(r).map((v) => `      ✗ ${v}`).join('\n')}`;
}

export function machine(): string {
  const cpu = cpus();
  return `${cpu.length} × ${cpu[0]?.model.trim() ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, load before the run ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`;
}

export function markdownTable(records: readonly RunRecord[]): string {
  const rows = records.map((r) => {
    const x = r.result;
    if (!x) return `| ${r.title} | ✗ ${r.error ?? ''} | | | | | | |`;
    const c = x.verdict.counts;
    const lostDup = r.passed ? '0 / 0' : allViolations(r).join('; ');
    const figures = Object.entries(x.figures)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    return `| ${r.title} | ${r.passed ? 'pass' : 'FAIL'} | ${x.orders} (paid ${c.PAID ?? 0}, closed ${c.CLOSED ?? 0}, late payments refunded ${c.lateRefunded ?? 0}) | ${x.faults}${figures ? ` (${figures})` : ''} | ${fmtMs(x.drainMs)} | ${fmtMs(x.maxOverdueMs)} (bound ${fmtMs(x.overdueBoundMs)}) | ${fmtMs(x.verdict.p99CloseLatenessMs)} / ${fmtMs(x.verdict.maxCloseLatenessMs)} | ${lostDup} |`;
  });
  return ['| experiment | result | orders | faults injected | drain | max unpaid past deadline | close lateness p99 / max | lost / duplicated effects |', '|---|---|---|---|---|---|---|---|', ...rows].join('\n');
}
