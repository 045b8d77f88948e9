import type { Connection, Publisher } from 'rabbitmq-client';

/**
 * The original design's timer (docs/original-design.md; the seed's §3.1–3.3): a durable "delay" queue whose messages
 * carry a per-message TTL (`expiration`) and dead-letter, once expired, through the order
 * exchange into the timer queue that one listener consumes. Messages are persistent, as Spring
 * AMQP's RabbitTemplate sends them. Names are the seed's, under the benchmark's own prefix.
 */
export interface OriginalTimerNames {
  exchange: string;
  /** queue.seckillordertimerdelay: where messages wait for their TTL */
  delayQueue: string;
  /** queue.seckillordertimer: where expired messages arrive and are consumed */
  timerQueue: string;
}

export function originalTimerNames(prefix: string): OriginalTimerNames {
  return {
    exchange: `${prefix}.exchange.order`,
    delayQueue: `${prefix}.queue.seckillordertimerdelay`,
    timerQueue: `${prefix}.queue.seckillordertimer`,
  };
}

export function originalTopology(names: OriginalTimerNames) {
  return {
    exchanges: [{ exchange: names.exchange, type: 'direct', durable: true }],
    queues: [
      { queue: names.timerQueue, durable: true },
      {
        queue: names.delayQueue,
        durable: true,
        arguments: { 'x-dead-letter-exchange': names.exchange, 'x-dead-letter-routing-key': names.timerQueue },
      },
    ],
    queueBindings: [{ exchange: names.exchange, queue: names.timerQueue, routingKey: names.timerQueue }],
  };
}

export interface TimerMessage {
  orderId: string;
  goodsId: string;
}

/** sendTimerMessage(): the message waits `ttlMs` in the delay queue. */
export function sendTimerMessage(publisher: Publisher, names: OriginalTimerNames, message: TimerMessage, ttlMs: number): Promise<void> {
  return publisher.send({ routingKey: names.delayQueue, durable: true, contentType: 'application/json', expiration: String(Math.max(0, Math.round(ttlMs))) }, message);
}

export async function deleteOriginalTopology(amqp: Connection, names: OriginalTimerNames): Promise<void> {
  await amqp.queueDelete({ queue: names.delayQueue }).catch(() => undefined);
  await amqp.queueDelete({ queue: names.timerQueue }).catch(() => undefined);
  await amqp.exchangeDelete({ exchange: names.exchange }).catch(() => undefined);
}
