import { type ChildProcess, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { LauncherOutput } from './output.js';

/**
 * The processes `npm start` runs, and stopping them: each one exactly once, SIGTERM first, then
 * SIGKILL after a grace period (the API and worker finish in-flight work within 15 s).
 */
export interface Processes {
  /** a long-running process (sandbox, api, worker); `onExit` unless it was asked to stop. Nothing once stopping. */
  start(name: string, args: string[], onExit: (description: string) => void): void;
  /** a one-shot step (generate, migrate); resolves with its exit code (1 once stopping) */
  run(name: string, args: string[], options?: { quiet?: boolean; env?: Record<string, string> }): Promise<number>;
  stopAll(): Promise<void>;
}

const STOP_GRACE_MS = 20_000;

function forwardLines(stream: Readable | null, onLine: (line: string) => void): void {
  let partial = '';
  stream?.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  });
  stream?.on('end', () => partial && onLine(partial));
}

const describeExit = (code: number | null, signal: NodeJS.Signals | null) => signal ?? `code ${code}`;

export function createProcesses(root: string, output: LauncherOutput): Processes {
  const running = new Set<ChildProcess>();
  let stopping = false;

  const spawnChild = (args: string[], onLine: (stream: 'stdout' | 'stderr', line: string) => void, env: Record<string, string> = {}) => {
    // Own process group (detached): Ctrl-C reaches only the launcher, which stops each child
    // exactly once. The IPC channel is how a child notices that the launcher died (kill -9): it
    // disconnects, and the child shuts down gracefully (src/infra/shutdown.ts) instead of living on.
    const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    running.add(child);
    child.once('exit', () => running.delete(child));
    forwardLines(child.stdout, (line) => onLine('stdout', line));
    forwardLines(child.stderr, (line) => onLine('stderr', line));
    return child;
  };

  return {
    start(name, args, onExit) {
      if (stopping) return;
      const child = spawnChild(['--import', 'tsx', ...args], (stream, line) => output.childLine(name, stream, line));
      child.once('exit', (code, signal) => {
        if (!stopping) onExit(describeExit(code, signal));
      });
    },
    run(name, args, options = {}) {
      if (stopping) return Promise.resolve(1);
      // quiet: a routine step's chatter (prisma generate's) is shown only when the step fails
      const held: [stream: 'stdout' | 'stderr', line: string][] = [];
      const child = spawnChild(args, (stream, line) => {
        if (options.quiet) held.push([stream, line]);
        else output.childLine(name, stream, line);
      }, options.env);
      return new Promise((resolve) => {
        child.once('error', () => resolve(1));
        // 'close', not 'exit': every line of the output has been read by then
        child.once('close', (code) => {
          if (code !== 0) for (const [stream, line] of held) output.childLine(name, stream, line);
          resolve(code ?? 1);
        });
      });
    },
    async stopAll() {
      stopping = true;
      const alive = [...running].filter((c) => c.exitCode === null && c.signalCode === null);
      await Promise.all(
        alive.map(
          (child) =>
            new Promise<void>((resolve) => {
              const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
              child.once('exit', () => (clearTimeout(kill), resolve()));
              child.kill('SIGTERM');
            }),
        ),
      );
    },
  };
}
