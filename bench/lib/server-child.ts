import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';

/**
 * The child-process side of a benchmark target. The orchestrator (bench/grab.ts) forks each
 * server, so the load generator and the server under test never share an event loop, and
 * talks to it over IPC: `ready` with the port, `cpu` (the child's CPU time so far),
 * `profile-start` / `profile-stop` (a V8 CPU profile of exactly the measured window, written
 * to `file`), `stop`.
 */

export type ParentMessage = { type: 'cpu' } | { type: 'profile-start' } | { type: 'profile-stop'; file: string } | { type: 'stop' };
export type ChildMessage =
  | { type: 'ready'; port: number }
  | { type: 'cpu'; userMs: number; systemMs: number }
  | { type: 'profile-started' }
  | { type: 'profile-stopped'; file: string }
  | { type: 'stopped' };

function send(message: ChildMessage): void {
  process.send?.(message);
}

/** Listen on loopback (port chosen by the OS), report it, and serve until told to stop. */
export async function serveUntilStopped(app: FastifyInstance, closeInfra: () => Promise<void>): Promise<void> {
  if (!process.send) throw new Error('this module is a benchmark child: start it through bench/grab.ts');
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      await app.close().catch(() => undefined);
      await closeInfra().catch(() => undefined);
      send({ type: 'stopped' });
      process.exit(0);
    })();
    return stopping;
  };
  let inspector: Session | undefined;
  const profile = async (message: Extract<ParentMessage, { type: 'profile-start' | 'profile-stop' }>) => {
    if (message.type === 'profile-start') {
      inspector = new Session();
      inspector.connect();
      await inspector.post('Profiler.enable');
      await inspector.post('Profiler.setSamplingInterval', { interval: 200 });
      await inspector.post('Profiler.start');
      send({ type: 'profile-started' });
    } else if (inspector) {
      const { profile: data } = await inspector.post('Profiler.stop');
      writeFileSync(message.file, JSON.stringify(data));
      inspector.disconnect();
      inspector = undefined;
      send({ type: 'profile-stopped', file: message.file });
    }
  };
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'profile-start' || message.type === 'profile-stop') {
      void profile(message);
    } else if (message.type === 'cpu') {
      const usage = process.cpuUsage();
      send({ type: 'cpu', userMs: usage.user / 1000, systemMs: usage.system / 1000 });
    } else if (message.type === 'stop') {
      void stop();
    }
  });
  // the orchestrator died: never linger as an orphan holding a port
  process.on('disconnect', () => void stop());
  await app.listen({ host: '127.0.0.1', port: 0 });
  send({ type: 'ready', port: (app.server.address() as AddressInfo).port });
}
