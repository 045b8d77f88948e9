import { nonceStr, signFields } from '../infra/wechat/sign.js';
import { buildXml } from '../infra/wechat/xml.js';
import { applyFaults, DEFAULT_FAULTS, type Faults, type FaultsPatch } from './faults.js';
import { Notifier } from './notifier.js';
import { REFUND_DELAY_MS, SandboxStore, type PaidEntry, type SandboxOrder } from './store.js';

export interface SandboxMerchant {
  readonly appId: string;
  readonly mchId: string;
  readonly apiKey: string;
}

export interface DeliveryOptions {
  readonly concurrent?: number;
  readonly duplicates?: number;
}

export interface SandboxCoreOptions {
  readonly merchant: SandboxMerchant;
  readonly timeScale: number;
  readonly notifyTimeoutMs: number;
  readonly faults: FaultsPatch | undefined;
  readonly retryScheduleMs: readonly number[] | undefined;
}

/** State, faults and the notifier of one sandbox instance, shared by its two route sets. */
export class SandboxCore {
  readonly store: SandboxStore;
  readonly merchant: SandboxMerchant;
  readonly timeScale: number;
  readonly notifier: Notifier;
  readonly #initialFaults: Faults;
  faults: Faults;
  /**
   * The sandbox's clock runs this far from the real one (POST /sandbox/clock): set it a day back
   * and what is paid, closed or refunded now lands on yesterday, whose bill can then be
   * downloaded. Notification timing is not affected.
   */
  clockOffsetMs = 0;

  now(): Date {
    return new Date(Date.now() + this.clockOffsetMs);
  }

  constructor(opts: SandboxCoreOptions) {
    this.merchant = opts.merchant;
    this.timeScale = opts.timeScale;
    this.store = new SandboxStore({ refundDelayMs: REFUND_DELAY_MS * opts.timeScale });
    this.#initialFaults = applyFaults(DEFAULT_FAULTS, opts.faults ?? {});
    this.faults = this.#initialFaults;
    this.notifier = new Notifier({
      timeScale: opts.timeScale,
      timeoutMs: opts.notifyTimeoutMs,
      schedule: opts.retryScheduleMs,
      record: (entry) => this.store.recordDelivery(entry),
      settled: (outTradeNo, status) => {
        const order = this.store.get(outTradeNo);
        // A later cycle (POST /sandbox/notify) may already have succeeded; never downgrade it.
        if (order && !(status === 'gave-up' && order.notification === 'delivered')) order.notification = status;
      },
    });
  }

  /** The buyer pays an unpaid order: record it and start notifying. The caller checked the state. */
  pay(order: SandboxOrder, via: PaidEntry['via'], delivery: DeliveryOptions = {}): void {
    this.store.markPaid(order, this.now(), via);
    if (this.faults.dropNotifications) {
      order.notification = 'dropped';
      return;
    }
    this.notify(order, delivery);
  }

  /** Start a delivery cycle of the payment notification of a paid order. */
  notify(order: SandboxOrder, delivery: DeliveryOptions = {}): void {
    const transactionId = order.transactionId;
    if (!transactionId) throw new Error(`order ${order.outTradeNo} is not paid`);
    order.notification = 'pending';
    this.notifier.deliver({
      outTradeNo: order.outTradeNo,
      transactionId,
      url: order.notifyUrl,
      body: () => this.notificationXml(order),
      concurrent: delivery.concurrent ?? 1,
      duplicates: delivery.duplicates ?? 0,
    });
  }

  /** The payment notification, signed with the sign type the order was created with. */
  notificationXml(order: SandboxOrder): string {
    const fee = String(order.totalFee);
    const fields: Record<string, string> = {
      appid: this.merchant.appId,
      mch_id: this.merchant.mchId,
      nonce_str: nonceStr(),
      result_code: 'SUCCESS',
      return_code: 'SUCCESS',
      openid: order.openid ?? '',
      is_subscribe: 'N',
      trade_type: order.tradeType,
      bank_type: 'CFT',
      total_fee: fee,
      cash_fee: fee,
      fee_type: 'CNY',
      transaction_id: order.transactionId ?? '',
      out_trade_no: order.outTradeNo,
      time_end: order.timeEnd ?? '',
    };
    if (order.attach) fields.attach = order.attach;
    // WeChat sends sign_type only when it is not the default MD5.
    if (order.signType === 'HMAC-SHA256') fields.sign_type = order.signType;
    fields.sign = signFields(fields, this.merchant.apiKey, order.signType);
    return buildXml(fields);
  }

  updateFaults(patch: FaultsPatch): Faults {
    this.faults = applyFaults(this.faults, patch);
    return this.faults;
  }

  reset(): void {
    this.notifier.cancelAll();
    this.store.reset();
    this.faults = this.#initialFaults;
    this.clockOffsetMs = 0;
  }

  async close(): Promise<void> {
    await this.notifier.close();
  }
}
