import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';

/**
 * The child-process side of a benchmark target. The orchestrator (bench/grab.ts) forks each
 * server, so the load generator and the server under test never share an event loop, and
 * talks to it over IPC: `ready` with the port, `cpu` (the child's CPU time so far), `stop`.
 */

export type ParentMessage = { type: 'cpu' } | { type: 'stop' };
export type ChildMessage =
  | { type: 'ready'; port: number }
  | { type: 'cpu'; userMs: number; systemMs: number }
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
      // exit (rather than wait for the event loop to drain) so --cpu-prof writes its profile now
      process.exit(0);
    })();
    return stopping;
  };
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'cpu') {
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
