import { runByLauncher } from './launched.js';
import type { Logger } from './logger.js';

/**
 * Run `stop` once on SIGINT/SIGTERM, then exit. A second signal, or a stop that takes longer
 * than `graceMs`, exits at once: in-flight BullMQ jobs are not lost (they are retried after
 * stall recovery), but we prefer to finish them.
 */
export function onShutdown(logger: Logger, stop: () => Promise<void>, graceMs = 15_000): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight work');
    const timer = setTimeout(() => {
      logger.error('shutdown took too long: exiting');
      process.exit(1);
    }, graceMs);
    timer.unref();
    stop().then(
      () => {
        logger.info('stopped cleanly');
        process.exit(0);
      },
      (err: Error) => {
        logger.error({ err: err.message }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  // its IPC channel's loss means the launcher died (kill -9): stop like on SIGTERM
  if (runByLauncher()) process.once('disconnect', () => handler('SIGTERM'));
}
