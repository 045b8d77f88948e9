import { randomUUID } from 'node:crypto';
import type { Connection, Publisher, ReturnedMessage } from 'rabbitmq-client';
import { type AmqpNames, paymentTopology } from './payment-topology.js';

export class PublishTimeoutError extends Error {
  constructor(ms: number) {
    super(`broker did not confirm the payment event within ${ms} ms`);
    this.name = 'PublishTimeoutError';
  }
}

export class UnroutableEventError extends Error {
  constructor(exchange: string, routingKey: string) {
    super(`${exchange ? `exchange ${exchange}` : 'the default exchange'} has no queue bound for ${routingKey}: the message would be dropped`);
    this.name = 'UnroutableEventError';
  }
}

export interface ConfirmedMessage {
  exchange: string;
  routingKey: string;
  contentType: string;
  messageId?: string | undefined;
  headers?: Record<string, string>;
}

/**
 * Persistent, `mandatory` publishes with publisher confirms: resolves only once the broker
 * confirmed the message and did not return it as unroutable. A broker confirms an unroutable
 * message too (after returning it), so without `mandatory` a deleted queue silently eats every
 * message. After a return the next publish starts on a fresh channel, which declares the
 * topology again.
 */
export class ConfirmedPublisher {
  private publisher: Publisher;
  /** correlation ids of messages the broker returned as unroutable, until their publish looks */
  private readonly returned = new Set<string>();

  constructor(
    private readonly connection: Connection,
    private readonly topology: ReturnType<typeof paymentTopology>,
    private readonly timeoutMs: number,
  ) {
    this.publisher = this.createPublisher();
  }

  private createPublisher(): Publisher {
    const publisher = this.connection.createPublisher({ confirm: true, maxAttempts: 1, ...this.topology });
    publisher.on('basic.return', (msg: ReturnedMessage) => {
      if (!msg.correlationId) return;
      if (this.returned.size > 10_000) this.returned.clear(); // only publishes that timed out never look
      this.returned.add(msg.correlationId);
    });
    return publisher;
  }

  /** Resolves only once the broker confirmed the message; rejects on nack, error, timeout or return. */
  async publish(message: ConfirmedMessage, body: unknown): Promise<void> {
    const correlationId = randomUUID();
    const publisher = this.publisher;
    const send = publisher.send(
      {
        exchange: message.exchange,
        routingKey: message.routingKey,
        durable: true,
        mandatory: true,
        contentType: message.contentType,
        correlationId,
        ...(message.messageId ? { messageId: message.messageId } : {}),
        ...(message.headers ? { headers: message.headers } : {}),
      },
      body,
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new PublishTimeoutError(this.timeoutMs)), this.timeoutMs);
    });
    try {
      await Promise.race([send, timeout]);
    } finally {
      clearTimeout(timer);
    }
    send.catch(() => undefined); // a late failure after the timeout was already reported
    // The broker sends basic.return before the confirm, but the client emits it on a later turn
    // of the event loop (setImmediate): one more turn and it has been seen.
    await new Promise((resolve) => setImmediate(resolve));
    if (this.returned.delete(correlationId)) {
      if (this.publisher === publisher) {
        this.publisher = this.createPublisher();
        void publisher.close().catch(() => undefined);
      }
      throw new UnroutableEventError(message.exchange, message.routingKey);
    }
  }

  async close(): Promise<void> {
    await this.publisher.close();
  }
}

/**
 * Publishes payment notifications as persistent JSON messages with publisher confirms.
 * The topology (queue and binding included) is declared before the first publish, so an event
 * published before any worker started is kept, not dropped by an exchange with no queue.
 *
 * Messages are `mandatory`: a broker confirms an unroutable message too (after returning it), so
 * without this a queue deleted under a running API would turn every notification into a SUCCESS
 * answered to WeChat and an event lost. A returned message fails the publish (WeChat retries), and
 * the next publish starts on a fresh channel that declares the topology again.
 */
export class PaymentPublisher {
  private readonly confirmed: ConfirmedPublisher;

  constructor(
    connection: Connection,
    private readonly names: AmqpNames,
  ) {
    this.confirmed = new ConfirmedPublisher(connection, paymentTopology(names), names.publishTimeoutMs);
  }

  /** Resolves only once the broker confirmed the event; rejects on nack, error, timeout or return. */
  publish(fields: Record<string, string>): Promise<void> {
    return this.confirmed.publish(
      { exchange: this.names.exchange, routingKey: this.names.routingKey, contentType: 'application/json', messageId: fields.transaction_id },
      fields,
    );
  }

  close(): Promise<void> {
    return this.confirmed.close();
  }
}
