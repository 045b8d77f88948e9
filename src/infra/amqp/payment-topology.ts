import type { Config } from '../../config/env.js';

export type AmqpNames = Config['amqp'];

/**
 * The payment-event topology, compatible with the original Java system:
 * direct durable exchange `exchange.order` → durable queue `queue.seckillorder` (routing key
 * `queue.seckillorder`), plus our dead-letter queue for rejected events.
 *
 * The main queue is declared without arguments on purpose: the original system (or an operator)
 * may already have declared it, and a declaration with different arguments would be refused by
 * the broker. Rejected events are therefore moved to the dead-letter queue by the bridge itself
 * (publish with confirm, then ack), not through x-dead-letter-exchange.
 */
export function paymentTopology(names: AmqpNames) {
  return {
    exchanges: [{ exchange: names.exchange, type: 'direct', durable: true }],
    queues: [
      { queue: names.queue, durable: true },
      { queue: names.deadLetterQueue, durable: true },
    ],
    queueBindings: [{ exchange: names.exchange, queue: names.queue, routingKey: names.routingKey }],
  };
}
