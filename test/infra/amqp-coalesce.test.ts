import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { createAmqp, closeAmqp } from '../../src/infra/amqp/connection.js';
import { coalesceSocketWrites } from '../../src/infra/amqp/coalesce-writes.js';
import { silentLogger } from '../helpers/app.js';

const amqpUrl = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** Counts the socket's trips to the kernel: `_write` (one chunk) and `_writev` (several). */
function countKernelWrites(socket: net.Socket): { writes: number; chunks: number } {
  const seen = { writes: 0, chunks: 0 };
  const raw = socket as unknown as { _write: (...a: unknown[]) => unknown; _writev: (chunks: unknown[], ...a: unknown[]) => unknown };
  const [write, writev] = [raw._write, raw._writev];
  raw._write = function (...a: unknown[]) {
    seen.writes += 1;
    seen.chunks += 1;
    return write.apply(this, a);
  };
  raw._writev = function (chunks: unknown[], ...a: unknown[]) {
    seen.writes += 1;
    seen.chunks += chunks.length;
    return writev.call(this, chunks, ...a);
  };
  return seen;
}

describe('coalesceSocketWrites', () => {
  it('sends the writes of one event-loop turn in one trip, in order, and the next turn in another', async () => {
    const received: Buffer[] = [];
    const server = net.createServer((s) => s.on('data', (d: Buffer) => received.push(d)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const socket = net.connect({ port, host: '127.0.0.1' });
    await new Promise((resolve) => socket.once('connect', resolve));
    coalesceSocketWrites(socket);
    coalesceSocketWrites(socket); // a second call changes nothing
    const seen = countKernelWrites(socket);

    for (let i = 0; i < 20; i += 1) socket.write(`a${i};`);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen.writes).toBe(1);
    expect(seen.chunks).toBe(20);
    socket.write('b;');
    socket.write('c;');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(seen.writes).toBe(2);
    expect(Buffer.concat(received).toString()).toBe(`${Array.from({ length: 20 }, (_, i) => `a${i};`).join('')}b;c;`);
    socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
});

describe('AMQP connection (real RabbitMQ)', () => {
  const connection = createAmqp(amqpUrl, silentLogger, 'coalesce-test');
  const queue = `test.coalesce.${randomBytes(4).toString('hex')}`;
  afterAll(async () => {
    await connection.queueDelete({ queue }).catch(() => undefined);
    await closeAmqp(connection);
  });

  it('publishes 50 messages of one turn in a couple of socket writes, and every one arrives', async () => {
    await connection.onConnect(5_000);
    await connection.queueDeclare({ queue, exclusive: false, autoDelete: false });
    const socket = (connection as unknown as { _socket: net.Socket })._socket;
    const seen = countKernelWrites(socket);
    const channel = await connection.acquire();
    try {
      // one turn: 50 basic.publish (method + header + body frames each)
      const sent = Array.from({ length: 50 }, (_, i) => channel.basicPublish({ routingKey: queue }, `m${i}`));
      await Promise.all(sent);
      await new Promise((resolve) => setImmediate(resolve));
      expect(seen.chunks).toBeGreaterThanOrEqual(50);
      // without coalescing this is one write per publish (50)
      expect(seen.writes).toBeLessThanOrEqual(2);
      let count = 0;
      for (let i = 0; i < 50 && count < 50; i += 1) {
        count = (await channel.queueDeclare({ queue, passive: true })).messageCount;
        if (count < 50) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(count).toBe(50);
      const first = await channel.basicGet({ queue, noAck: true });
      expect(first?.body).toBe('m0');
    } finally {
      await channel.close();
    }
  });
});
