import { Connection } from 'rabbitmq-client';
import type { Logger } from '../logger.js';
import { coalesceAmqpWrites } from './coalesce-writes.js';

/**
 * One AMQP connection per process. rabbitmq-client reconnects by itself (with backoff) and
 * re-declares every publisher's and consumer's topology on each reconnect. Its frames leave in
 * one write per event-loop turn (coalesce-writes.ts).
 */
export function createAmqp(url: string, logger: Logger, name: string): Connection {
  const connection = new Connection({
    url,
    connectionName: `seckill-${name}`,
    retryLow: 200,
    retryHigh: 5_000,
    connectionTimeout: 5_000,
  });
  coalesceAmqpWrites(connection, logger);
  let lastError = '';
  connection.on('error', (err: Error) => {
    if (err.message !== lastError) logger.error({ err: err.message }, 'amqp connection error');
    lastError = err.message;
  });
  connection.on('connection', () => {
    logger.info(lastError ? 'amqp reconnected' : 'amqp connected');
    lastError = '';
  });
  return connection;
}

export async function closeAmqp(connection: Connection): Promise<void> {
  await Promise.race([connection.close(), new Promise((resolve) => setTimeout(resolve, 3_000))]);
}
