import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { keySpace } from '../../infra/redis/keys.js';
import type { CoreDeps } from '../deps.js';
import { refuseWrongAmount } from './payment.js';
import { Transition } from './transition-codes.js';

/**
 * A wrong-amount notification is answered SUCCESS only once its review is stored. If the order
 * became final between the amount check's read and the review's compare-and-set (a person just
 * resolved it), nothing was stored: the notification must go the normal way (published, and the
 * payment job records it as a payment for a final order), never acknowledged unrecorded.
 * (A race no real-service test can time; here with a fake Redis.)
 */
describe('refuseWrongAmount when the order moves on under it', () => {
  const orderId = '11234567890123456789';
  const fakeDeps = (markNeedsReview: Transition) =>
    ({
      keys: keySpace('t'),
      logger: pino({ level: 'silent' }),
      metrics: { ordersToReview: { inc: () => undefined } },
      queues: { removeCloseJob: async () => true },
      redis: {
        hmget: async () => [orderId, '1', 'buyer', '100', 'NEEDS_REVIEW', '1', '2'],
        markNeedsReview: async () => markNeedsReview,
      },
    }) as unknown as CoreDeps;
  const wrong = { result_code: 'SUCCESS', out_trade_no: orderId, transaction_id: '4200000000000000000000000001', total_fee: '99' };

  it('returns the reason when the review was stored', async () => {
    expect(await refuseWrongAmount(fakeDeps(Transition.AlreadyDone), wrong)).toMatch(/total_fee 99 differs from the order amount 100/);
  });

  it.each([Transition.IsClosed, Transition.IsPaid, Transition.OrderNotFound])('returns undefined (publish it) when markNeedsReview answers %s', async (code) => {
    expect(await refuseWrongAmount(fakeDeps(code), wrong)).toBeUndefined();
  });
});
