import { type AsyncMessage, type Consumer, ConsumerStatus } from 'rabbitmq-client';
import { ConfirmedPublisher } from '../infra/amqp/payment-publisher.js';
import { verifyNotification } from '../domain/payments/verify-notification.js';
import { paymentTopology } from '../infra/amqp/payment-topology.js';
import type { Infra } from '../infra/context.js';

export interface PaymentBridge {
  consumer: Consumer;
  close(): Promise<void>;
}

/** The message body as the flat string map the original system publishes (or why it is not one). */
export function decodeEvent(msg: AsyncMessage): { fields: Record<string, string> } | { error: string } {
  let value: unknown = msg.body;
  if (Buffer.isBuffer(value)) value = value.toString('utf8');
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return { error: 'body is not JSON' };
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { error: 'body is not a JSON object' };
  const fields: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) {
    // the original system sends every field as a string; tolerate bare numbers (total_fee)
    if (typeof v === 'string') fields[key] = v;
    else if (typeof v === 'number' && Number.isSafeInteger(v)) fields[key] = String(v);
    else return { error: `field ${key} is not a string` };
  }
  return { fields };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * RabbitMQ → BullMQ bridge (design §4.4). Declares the topology on every (re)connect, consumes
 * with a bounded prefetch, re-verifies each event, and acks only after the BullMQ job
 * of the event (`payment-<out_trade_no>-<transaction_id>`) is stored in Redis. A malformed or
 * forged event is copied to the dead-letter queue (with a confirm) before it is acked, and is
 * counted.
 */
export function startPaymentBridge(infra: Infra): PaymentBridge {
  const { config, core } = infra;
  const names = config.amqp;
  // mandatory + confirmed: a dead-letter queue deleted under us returns the message, and the
  // event stays unacked in its queue (requeued after a pause) instead of being dropped
  const deadLetters = new ConfirmedPublisher(infra.amqp, paymentTopology(names), names.publishTimeoutMs);

  const reject = async (msg: AsyncMessage, reason: string) => {
    try {
      await deadLetters.publish(
        { exchange: '', routingKey: names.deadLetterQueue, contentType: msg.contentType ?? 'application/json', headers: { 'x-rejection-reason': reason, 'x-original-queue': names.queue } },
        msg.body,
      );
    } catch (err) {
      core.metrics.bridgeEvents.inc({ result: 'dead-letter-failed' });
      core.logger.error({ err: (err as Error).message, reason, messageId: msg.messageId }, 'could not dead-letter a rejected payment event; it stays in its queue');
      await sleep(1_000);
      throw err; // nack + requeue: never dropped
    }
    core.metrics.bridgeEvents.inc({ result: 'dead-lettered' });
    core.logger.warn({ reason, messageId: msg.messageId }, 'payment event rejected to the dead-letter queue');
    return ConsumerStatus.ACK;
  };

  // Up to AMQP_PREFETCH events fail together while Redis is down, and again at each redelivery:
  // each distinct error is logged once (with how many events it had sent back so far when it
  // changes or ends), not once per event; the counter counts them all.
  let storeError = '';
  let requeued = 0;
  const storeFailed = (err: Error) => {
    core.metrics.bridgeEvents.inc({ result: 'requeued' });
    requeued += 1;
    if (err.message === storeError) return;
    storeError = err.message;
    core.logger.error({ err: err.message, requeuedSoFar: requeued }, 'could not store payment jobs; their events go back to RabbitMQ (logged once per distinct error)');
  };
  const storeWorks = () => {
    if (storeError === '') return;
    core.logger.info({ requeued }, 'payment jobs are stored again');
    storeError = '';
    requeued = 0;
  };

  const consumer = infra.amqp.createConsumer(
    {
      queue: names.queue,
      queueOptions: { durable: true },
      qos: { prefetchCount: names.prefetch },
      concurrency: names.prefetch,
      requeue: true,
      ...paymentTopology(names),
    },
    async (msg) => {
      const decoded = decodeEvent(msg);
      if ('error' in decoded) return reject(msg, decoded.error);
      const check = verifyNotification(decoded.fields, config.wechat);
      if (!check.ok) return reject(msg, check.reason);
      try {
        await core.queues.addPaymentEvent(decoded.fields);
      } catch (err) {
        // Redis unavailable: leave the message in RabbitMQ (nack + requeue) after a pause
        storeFailed(err as Error);
        await sleep(1_000);
        throw err;
      }
      storeWorks();
      core.metrics.bridgeEvents.inc({ result: 'stored' });
      return ConsumerStatus.ACK;
    },
  );
  consumer.on('error', (err: Error) => core.logger.error({ err: err.message }, 'payment bridge consumer error'));

  return {
    consumer,
    async close() {
      await consumer.close();
      await deadLetters.close();
    },
  };
}
