import { pino, type Logger } from 'pino';

export type { Logger };

/** One JSON logger per process; pretty output only when a person is watching a terminal. */
export function createLogger(name: string, level = 'info'): Logger {
  const pretty = process.stdout.isTTY && process.env.CI !== 'true';
  return pino({
    name,
    level,
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
  });
}
