import { describe, expect, it } from 'vitest';
import type { CoreDeps } from '../deps.js';
import { outRefundNoOf, requestLateRefund } from './refund.js';

/** Unit tests with a fake queue (the end-to-end refund runs in test/payments/late-refund.test.ts). */
describe('late-payment refunds', () => {
  const depsWith = (autoRefund: boolean) => {
    const scheduled: unknown[] = [];
    const deps = { config: { wechat: { autoRefund } }, queues: { scheduleRefund: async (job: unknown) => void scheduled.push(job) } } as unknown as CoreDeps;
    return { deps, scheduled };
  };
  const job = { orderId: '11234567890123456789', transactionId: '4200000000000000000000000001', totalFee: 100 };

  it('queues a refund when AUTO_REFUND_LATE_PAYMENTS is on, and nothing when it is off (review only)', async () => {
    const on = depsWith(true);
    await requestLateRefund(on.deps, job);
    expect(on.scheduled).toEqual([job]);
    const off = depsWith(false);
    await requestLateRefund(off.deps, job);
    expect(off.scheduled).toEqual([]);
  });

  it('derives one out_refund_no per order, valid for WeChat (≤ 64 of [0-9A-Za-z_-|*@])', () => {
    expect(outRefundNoOf(job.orderId)).toBe(`RF${job.orderId}`);
    expect(outRefundNoOf('9'.repeat(32))).toMatch(/^[0-9A-Za-z_\-|*@]{1,64}$/);
  });
});
