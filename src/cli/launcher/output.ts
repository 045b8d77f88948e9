import { type Logger, pino } from 'pino';
import { prettyFactory } from 'pino-pretty';
import { PRETTY_OPTIONS } from '../../infra/logger.js';

/**
 * Everything `npm start` prints goes through here. The processes it runs write JSON lines (their
 * stdout is a pipe); on a terminal the launcher shows them through pino-pretty, otherwise it
 * passes them on untouched, so a log collector reading `npm start` gets one JSON object per line.
 * A line a process writes that is not one of its log lines (a stack trace, a tool's message)
 * becomes a log entry under that process's name instead of breaking the format.
 */
export interface LauncherOutput {
  /** the launcher's own log */
  log: Logger;
  /** one line a process wrote on stdout or stderr */
  childLine(name: string, stream: 'stdout' | 'stderr', line: string): void;
  /** text for a person, printed as it is (the banner) */
  text(text: string): void;
}

export interface OutputOptions {
  pretty: boolean;
  level: string;
  write?: (chunk: string) => void;
}

function isJsonObject(line: string): boolean {
  if (!line.startsWith('{')) return false;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

export function createOutput({ pretty, level, write = (chunk) => void process.stdout.write(chunk) }: OutputOptions): LauncherOutput {
  const format = pretty ? prettyFactory({ ...PRETTY_OPTIONS }) : undefined;
  const emit = (jsonLine: string) => write(format ? format(jsonLine) : jsonLine.endsWith('\n') ? jsonLine : `${jsonLine}\n`);
  // A plain { write } destination keeps pino synchronous: log lines and the banner stay in order.
  const destination = { write: emit };
  const log = pino({ name: 'launcher', level }, destination);
  const loggers = new Map<string, Logger>();
  const loggerOf = (name: string) => {
    let logger = loggers.get(name);
    if (!logger) loggers.set(name, (logger = pino({ name, level: 'trace' }, destination)));
    return logger;
  };
  return {
    log,
    childLine(name, stream, line) {
      if (line.trim() === '') return;
      if (isJsonObject(line)) emit(line);
      else if (stream === 'stderr') loggerOf(name).warn(line);
      else loggerOf(name).info(line);
    },
    text: (text) => write(text.endsWith('\n') ? text : `${text}\n`),
  };
}
