import net from 'node:net';
import type { Connection } from 'rabbitmq-client';
import type { Logger } from '../logger.js';

/**
 * One socket write per event-loop turn on an AMQP connection instead of one per frame.
 *
 * rabbitmq-client writes every method to its socket as it is made: each ack of the payment
 * bridge, each publish of the notify endpoint is a write(2) of its own. On loopback the kernel
 * delivers the bytes in the writer's own context (20–35 µs of CPU per write on our 2-core test
 * machine) and RabbitMQ reads and parses each one separately. Under load a worker acks dozens
 * of deliveries in the same turn (the Redis replies that let it ack arrive together), and the
 * API publishes for every request it read in the same poll phase: corking the socket at the
 * turn's first write and uncorking it in `setImmediate` sends them as one `writev`. Order is
 * kept (cork only buffers), and nothing waits longer than the rest of the current turn.
 *
 * The socket is the connection's `_socket` (rabbitmq-client 5, not a public API; a new one on
 * each reconnect, so this hooks every `connection` event). If a later version hides it, frames
 * simply go out one by one again, with a warning: nothing else depends on this.
 */
export function coalesceAmqpWrites(connection: Connection, logger: Logger): void {
  let warned = false;
  connection.on('connection', () => {
    const socket = (connection as unknown as { _socket?: unknown })._socket;
    if (socket instanceof net.Socket) {
      coalesceSocketWrites(socket);
    } else if (!warned) {
      warned = true;
      logger.warn('rabbitmq-client no longer exposes its socket: AMQP frames are written one by one');
    }
  });
}

const COALESCED = Symbol('coalesced writes');

/** Cork `socket` at the first write of an event-loop turn and uncork it when the turn ends. */
export function coalesceSocketWrites(socket: net.Socket): void {
  const target = socket as net.Socket & { [COALESCED]?: true };
  if (target[COALESCED]) return;
  target[COALESCED] = true;
  // the socket's own write (rabbitmq-client's wrapper of it, which notes that a write happened)
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  let corked = false;
  const flush = () => {
    corked = false;
    socket.uncork();
  };
  socket.write = (...args: unknown[]): boolean => {
    if (!corked && !socket.destroyed) {
      corked = true;
      socket.cork();
      setImmediate(flush);
    }
    return write(...args);
  };
}
