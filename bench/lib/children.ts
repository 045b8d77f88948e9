import { type ChildProcess, fork } from 'node:child_process';
import type { ChildMessage, ParentMessage } from './server-child.js';
import { SERVER_NODE_FLAGS } from '../../src/infra/node-flags.js';

/** The orchestrator's handle on one forked benchmark server (see server-child.ts). */
export interface Target {
  name: string;
  url: string;
  /** CPU milliseconds (user + system) the server process has used so far */
  cpuMs(): Promise<number>;
  /** start a CPU profile in the server; the returned function stops it and writes `file` */
  startProfile(): Promise<(file: string) => Promise<void>>;
  stop(): Promise<void>;
}

function waitFor<T extends ChildMessage['type']>(child: ChildProcess, type: T, timeoutMs: number): Promise<Extract<ChildMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`benchmark server did not answer '${type}' within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (message: ChildMessage) => {
      if (message.type === type) done(undefined, message as Extract<ChildMessage, { type: T }>);
    };
    const onExit = (code: number | null) => done(new Error(`benchmark server exited (code ${code}) before '${type}'`));
    function done(err?: Error, message?: Extract<ChildMessage, { type: T }>) {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(message!);
    }
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** Fork `entry` (a .ts file, run through the same tsx loader as this process) with `env`. */
export async function startTarget(name: string, entry: string, env: NodeJS.ProcessEnv): Promise<Target> {
  const child = fork(entry, [], {
    env,
    // the flags a deployed API runs with (src/infra/node-flags.ts), for every target alike
    execArgv: [...process.execArgv, ...SERVER_NODE_FLAGS],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ask = (message: ParentMessage) => child.send(message);
  const { port } = await waitFor(child, 'ready', 60_000).catch((err: Error) => {
    child.kill('SIGKILL');
    throw err;
  });
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    async cpuMs() {
      const answer = waitFor(child, 'cpu', 5_000);
      ask({ type: 'cpu' });
      const { userMs, systemMs } = await answer;
      return userMs + systemMs;
    },
    async startProfile() {
      const started = waitFor(child, 'profile-started', 5_000);
      ask({ type: 'profile-start' });
      await started;
      return async (file: string) => {
        const stopped = waitFor(child, 'profile-stopped', 30_000);
        ask({ type: 'profile-stop', file });
        await stopped;
      };
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      ask({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
