import type { Connection, Publisher } from 'rabbitmq-client';
import { type AmqpNames, paymentTopology } from './payment-topology.js';

export class PublishTimeoutError extends Error {
  constructor(ms: number) {
    super(`broker did not confirm the payment event within ${ms} ms`);
    this.name = 'PublishTimeoutError';
  }
}

/**
 * Publishes payment notifications as persistent JSON messages with publisher confirms.
 * The topology (queue and binding included) is declared before the first publish, so an event
 * published before any worker started is kept, not dropped by an exchange with no queue.
 */
export class PaymentPublisher {
  private readonly publisher: Publisher;

  constructor(
    connection: Connection,
    private readonly names: AmqpNames,
  ) {
    this.publisher = connection.createPublisher({ confirm: true, maxAttempts: 1, ...paymentTopology(names) });
  }

  /** Resolves only once the broker confirmed the message; rejects on nack, error or timeout. */
  async publish(fields: Record<string, string>): Promise<void> {
    const send = this.publisher.send(
      {
        exchange: this.names.exchange,
        routingKey: this.names.routingKey,
        durable: true,
        contentType: 'application/json',
        messageId: fields.transaction_id,
      },
      fields,
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new PublishTimeoutError(this.names.publishTimeoutMs)), this.names.publishTimeoutMs);
    });
    try {
      await Promise.race([send, timeout]);
    } finally {
      clearTimeout(timer);
    }
    send.catch(() => undefined); // a late failure after the timeout was already reported
  }

  async close(): Promise<void> {
    await this.publisher.close();
  }
}
