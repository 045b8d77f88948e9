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

/** One logger per process: JSON lines, or pino-pretty on a terminal. */
export function createLogger(name: string, level = 'info'): Logger {
  return pino({
    name,
    level,
    ...(wantsPrettyLogs() ? { transport: { target: 'pino-pretty', options: PRETTY_OPTIONS } } : {}),
  });
}
