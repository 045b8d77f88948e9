import { type ChildProcess, fork, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

/**
 * Child processes of the timeouts benchmark: the sandbox, worker processes exactly as deployed
 * (`node --import tsx src/workers/main.ts`) and the original design's consumer. Their output
 * goes to a log file (cheap, and kept for a post-mortem); readiness is a line in that file or an
 * IPC message. CPU time is read from /proc, so a run can say where the CPU went.
 */

export interface Child {
  name: string;
  pid: number;
  logFile: string;
  exited: Promise<number | string>;
  /** Wait for `text` to appear in the log file. */
  waitForLog(text: string, timeoutMs?: number): Promise<void>;
  /** Wait for an IPC message of this type (forked children only). */
  waitForMessage(type: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  send(message: Record<string, unknown>): void;
  /** SIGTERM (graceful), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<number | string>;
}

function wrap(name: string, child: ChildProcess, logFile: string): Child {
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  const handle: Child = {
    name,
    pid: child.pid ?? -1,
    logFile,
    exited,
    async waitForLog(text, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let done = false;
      void exited.then(() => (done = true));
      for (;;) {
        if (readFileSync(logFile, 'utf8').includes(text)) return;
        if (done) throw new Error(`${name} exited before logging "${text}"; see ${logFile}`);
        if (Date.now() > deadline) throw new Error(`${name} did not log "${text}" within ${timeoutMs} ms; see ${logFile}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    waitForMessage(type, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`${name} did not send '${type}' within ${timeoutMs} ms; see ${logFile}`)), timeoutMs);
        const onMessage = (message: Record<string, unknown>) => {
          if (message.type === type) finish(undefined, message);
        };
        const onExit = () => finish(new Error(`${name} exited before '${type}'; see ${logFile}`));
        function finish(err?: Error, message?: Record<string, unknown>) {
          clearTimeout(timer);
          child.off('message', onMessage);
          child.off('exit', onExit);
          if (err) reject(err);
          else resolve(message ?? {});
        }
        child.on('message', onMessage);
        child.once('exit', onExit);
      });
    },
    send(message) {
      child.send?.(message);
    },
    async stop(graceMs = 20_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  return handle;
}

/** `node --import tsx <entry>` with output to `logFile`. */
export function spawnTs(name: string, entry: string, env: NodeJS.ProcessEnv, logFile: string, nodeArgs: string[] = []): Child {
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', entry], { env, stdio: ['ignore', fd, fd] });
    return wrap(name, child, logFile);
  } finally {
    closeSync(fd);
  }
}

/** Fork `entry` through tsx with an IPC channel (for children written for the benchmark). */
export function forkTs(name: string, entry: string, env: NodeJS.ProcessEnv, logFile: string, nodeArgs: string[] = []): Child {
  const fd = openSync(logFile, 'a');
  try {
    const child = fork(entry, [], { env, execArgv: [...nodeArgs, '--import', 'tsx'], stdio: ['ignore', fd, fd, 'ipc'] });
    return wrap(name, child, logFile);
  } finally {
    closeSync(fd);
  }
}

