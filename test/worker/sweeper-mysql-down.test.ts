import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweep } from '../../src/domain/orders/sweep.js';
import { PrivateMariaDb } from '../helpers/mariadb-server.js';
import { type TestSystem, createTestSystem } from '../helpers/system.js';
import { closeJobState, newGoods, reserveWithoutJob } from './support.js';

/**
 * The sweeper's rescue of overdue orders needs only Redis: with MySQL down (an outage the
 * outbox rides out) it must still schedule the close of an order whose job was lost, and skip
 * only the steps that need MySQL (goods reload, stock check). Found by `npm run chaos`
 * (mariadb-outage): every sweep failed on its first MySQL query and rescued nothing.
 */
describe('sweeper while MySQL is down', () => {
  let mysql: PrivateMariaDb;
  let s: TestSystem;
  beforeAll(async () => {
    mysql = await PrivateMariaDb.start();
    s = await createTestSystem({ databaseServerUrl: mysql.url, workers: false });
  });
  afterAll(async () => {
    await mysql?.resume().catch(() => undefined);
    await s?.close();
    await mysql?.destroy();
  });

  it('rescues an overdue order without a job, and says what it skipped', async () => {
    const goodsId = await newGoods(s, 1);
    const orderId = await reserveWithoutJob(s, 'swm-1', goodsId, 100);
    const k = s.infra.core.keys.forGoods(goodsId);
    await s.infra.core.redis.zadd(k.held, Date.now() - 60_000, orderId); // long overdue
    expect(await closeJobState(s, orderId)).toBe('gone');

    await mysql.stop();
    const warnings: string[] = [];
    const logger = Object.assign(Object.create(s.workerInfra.core.logger) as typeof s.workerInfra.core.logger, {
      warn: (_obj: unknown, msg?: string) => void warnings.push(String(msg)),
    });
    const report = await sweep({ ...s.workerInfra.core, logger });
    expect(report.rescheduled).toBe(1);
    expect(await closeJobState(s, orderId)).not.toBe('gone');
    expect(report.drift).toEqual([]);
    expect(warnings.some((w) => w.startsWith('sweeper: MySQL unavailable'))).toBe(true);
  }, 60_000);
});
