import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLiveOrder } from '../../src/domain/orders/order-view.js';
import { eventually } from '../../src/sandbox/testing.js';
import { type TestSystem, createTestSystem } from '../helpers/system.js';
import { createGoods, grab, pay } from '../payments/support.js';
import { type WorkerChild, killChild, spawnWorker } from '../worker/support.js';
import { report, requestRun, sandboxDaysBack, untilSucceeded, yesterday } from './support.js';

/**
 * An operator's bad day: the worker process running a reconciliation is killed (-9) while it
 * downloads the bill. Another worker takes the job over once its lock lapses (BullMQ's stall
 * recovery) and the run finishes; what the first one left (the day RUNNING) is simply run again.
 */
describe('a worker killed in the middle of a reconciliation', () => {
  let s: TestSystem;
  let child: WorkerChild | undefined;

  beforeAll(async () => {
    s = await createTestSystem({
      workers: false,
      env: { ORDER_TIMEOUT_MS: '600000', RECONCILIATION_ENABLED: 'false', RECONCILIATION_RETRY_MS: '100', WORKER_METRICS_PORT: '0' },
      sandbox: { faults: { closeRule: false } },
    });
  });
  afterAll(async () => {
    await killChild(child);
    await s?.close();
  });

  it('another worker finishes the run: the missed payment is applied once', async () => {
    const goods = await createGoods(s, 700, 5, 'killed');
    await sandboxDaysBack(s, 1);
    await s.sandbox.faults({ dropNotifications: true });
    const order = await grab(s, 'killed-1', goods.id);
    expect((await pay(s, 'killed-1', order.orderId)).statusCode).toBe(200);
    expect((await s.sandbox.pay(order.orderId)).status).toBe(200);
    await sandboxDaysBack(s, 0);

    // the bill takes long to come: the run is in flight when its process dies
    await s.sandbox.faults({ delayMs: { downloadbill: 60_000 } });
    child = spawnWorker(s.env);
    await child.started;
    await requestRun(s, yesterday());
    await eventually(async () => ((await report(s, yesterday()))?.status === 'RUNNING' ? true : undefined), 10_000, 50);
    await killChild(child);
    expect((await readLiveOrder(s.infra.core, order.orderId))?.status).toBe('UNPAID');

    await s.sandbox.faults({ delayMs: 0 });
    await s.startWorkers();
    const day = await untilSucceeded(s, yesterday(), 30_000);
    expect(day.runs).toBe(2);
    expect(day.differences).toMatchObject([{ kind: 'MISSED_PAYMENT', orderId: order.orderId, action: 'PAYMENT_APPLIED' }]);
    expect((await readLiveOrder(s.infra.core, order.orderId))?.status).toBe('PAID');
  });
});
