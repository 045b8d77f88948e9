import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Pretty output only when a person is watching a terminal; JSON lines for anything else (a
 * pipe, a file, a log collector, CI). `npm start`'s launcher asks the same question for the
 * output of the processes it runs (src/cli/launcher/output.ts).
 */
export function wantsPrettyLogs(): boolean {
  return Boolean(process.stdout.isTTY) && process.env.CI !== 'true';
}

/** The options of pino-pretty shared by every process and the launcher. */
export const PRETTY_OPTIONS = { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } as const;

/**
 * One logger per process: JSON lines, or pino-pretty on a terminal.
 *
 * JSON lines go to stdout asynchronously: a worker logs a line per close, and a synchronous
 * write(2) per line was ≈ 2 % of a worker's CPU at 1,000 closes/s (BENCHMARKS.md, "Timeouts").
 * Lines written while a write is in flight go out together with the next one; nothing waits
 * for a buffer to fill, so a quiet process's lines still appear at once. pino flushes what is
 * left synchronously when the process exits (process.exit included); only a SIGKILL can lose
 * the few lines of the write in flight.
 */
export function createLogger(name: string, level = 'info'): Logger {
  if (wantsPrettyLogs()) return pino({ name, level, transport: { target: 'pino-pretty', options: PRETTY_OPTIONS } });
  return pino({ name, level }, pino.destination({ dest: 1, sync: false }));
}
