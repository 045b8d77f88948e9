import { randomBytes, randomInt } from 'node:crypto';
import { toBeijingTime } from '../infra/wechat/time.js';
import type { SignType } from '../infra/wechat/sign.js';

/**
 * The sandbox's memory: orders per out_trade_no and the ledger tests compare with. Everything
 * is in process memory (lost on restart, cleared by `POST /sandbox/reset`, growing with use):
 * the sandbox is a test and demo stand-in, never a production component.
 */
export type SandboxTradeState = 'NOTPAY' | 'SUCCESS' | 'CLOSED' | 'PAYERROR' | 'REFUND';

export type NotificationStatus = 'none' | 'pending' | 'delivered' | 'gave-up' | 'dropped';

export interface SandboxOrder {
  readonly outTradeNo: string;
  state: SandboxTradeState;
  /** The creating unifiedorder's parameters minus nonce_str/sign/sign_type (re-entry compares these). */
  readonly request: Readonly<Record<string, string>>;
  /** Sign type of the creating request; the notification is signed with it. */
  readonly signType: SignType;
  readonly prepayId: string;
  readonly codeUrl: string | undefined;
  readonly tradeType: string;
  readonly totalFee: number;
  readonly notifyUrl: string;
  readonly attach: string | undefined;
  readonly createdAt: Date;
  openid: string | undefined;
  transactionId?: string;
  timeEnd?: string;
  paidAt?: Date;
  closedAt?: Date;
  notification: NotificationStatus;
}

export interface PaidEntry {
  readonly out_trade_no: string;
  readonly transaction_id: string;
  readonly total_fee: number;
  readonly time_end: string;
  readonly paid_at: string;
  /** `pay`: POST /sandbox/pay; `pay-during-close`: the payDuringClose fault. */
  readonly via: 'pay' | 'pay-during-close';
}

export interface ClosedEntry {
  readonly out_trade_no: string;
  readonly closed_at: string;
}

export interface DeliveryEntry {
  readonly out_trade_no: string;
  readonly transaction_id: string;
  /** 0 is the first attempt of a delivery cycle; n is its n-th retry. */
  readonly attempt: number;
  readonly kind: 'first' | 'retry' | 'duplicate';
  /** Index among the concurrent copies of one attempt. */
  readonly copy: number;
  readonly at: string;
  readonly http_status?: number;
  /** SUCCESS: HTTP 200 with a SUCCESS XML reply; FAIL: any other reply; ERROR: no reply. */
  readonly outcome: 'SUCCESS' | 'FAIL' | 'ERROR';
  readonly detail?: string;
}

export interface Ledger {
  readonly paid: PaidEntry[];
  readonly closed: ClosedEntry[];
  readonly notifications: DeliveryEntry[];
}

export type NewOrder = Omit<SandboxOrder, 'state' | 'prepayId' | 'codeUrl' | 'createdAt' | 'notification'>;

export class SandboxStore {
  readonly #orders = new Map<string, SandboxOrder>();
  readonly #byTransactionId = new Map<string, SandboxOrder>();
  #ledger: Ledger = { paid: [], closed: [], notifications: [] };

  get(outTradeNo: string): SandboxOrder | undefined {
    return this.#orders.get(outTradeNo);
  }

  byTransactionId(transactionId: string): SandboxOrder | undefined {
    return this.#byTransactionId.get(transactionId);
  }

  create(input: NewOrder, now: Date): SandboxOrder {
    const order: SandboxOrder = {
      ...input,
      state: 'NOTPAY',
      prepayId: `wx${toBeijingTime(now)}${randomBytes(10).toString('hex')}`,
      codeUrl: input.tradeType === 'NATIVE' ? `weixin://wxpay/bizpayurl?pr=${randomBytes(6).toString('base64url').slice(0, 7)}` : undefined,
      createdAt: now,
      notification: 'none',
    };
    this.#orders.set(order.outTradeNo, order);
    return order;
  }

  /** NOTPAY/PAYERROR → SUCCESS. The caller has checked the state. */
  markPaid(order: SandboxOrder, now: Date, via: PaidEntry['via']): void {
    order.state = 'SUCCESS';
    order.transactionId = this.#newTransactionId(now);
    order.timeEnd = toBeijingTime(now);
    order.paidAt = now;
    order.openid ??= `o${randomBytes(20).toString('base64url').slice(0, 27)}`;
    this.#byTransactionId.set(order.transactionId, order);
    this.#ledger.paid.push({
      out_trade_no: order.outTradeNo,
      transaction_id: order.transactionId,
      total_fee: order.totalFee,
      time_end: order.timeEnd,
      paid_at: now.toISOString(),
      via,
    });
  }

  /** NOTPAY/PAYERROR → CLOSED. */
  markClosed(order: SandboxOrder, now: Date): void {
    order.state = 'CLOSED';
    order.closedAt = now;
    this.#ledger.closed.push({ out_trade_no: order.outTradeNo, closed_at: now.toISOString() });
  }

  /** NOTPAY → PAYERROR (the buyer's bank refused); the order can still be paid or closed. */
  markPayError(order: SandboxOrder): void {
    order.state = 'PAYERROR';
  }

  /** SUCCESS → REFUND. Still "paid" for unifiedorder/closeorder (ORDERPAID). */
  markRefunded(order: SandboxOrder): void {
    order.state = 'REFUND';
  }

  recordDelivery(entry: DeliveryEntry): void {
    this.#ledger.notifications.push(entry);
  }

  ledger(): Ledger {
    return structuredClone(this.#ledger);
  }

  reset(): void {
    this.#orders.clear();
    this.#byTransactionId.clear();
    this.#ledger = { paid: [], closed: [], notifications: [] };
  }

  /** 28 digits like WeChat's: `4200` + `00` + Beijing date + 14 random digits; unique here. */
  #newTransactionId(now: Date): string {
    for (;;) {
      const tail = String(randomInt(10_000_000)).padStart(7, '0') + String(randomInt(10_000_000)).padStart(7, '0');
      const id = `420000${toBeijingTime(now).slice(0, 8)}${tail}`;
      if (!this.#byTransactionId.has(id)) return id;
    }
  }
}

/** The JSON view of an order for `GET /sandbox/orders/:outTradeNo`. */
export function orderView(order: SandboxOrder): Record<string, unknown> {
  return {
    out_trade_no: order.outTradeNo,
    trade_state: order.state,
    total_fee: order.totalFee,
    trade_type: order.tradeType,
    prepay_id: order.prepayId,
    code_url: order.codeUrl,
    notify_url: order.notifyUrl,
    attach: order.attach,
    sign_type: order.signType,
    created_at: order.createdAt.toISOString(),
    transaction_id: order.transactionId,
    time_end: order.timeEnd,
    paid_at: order.paidAt?.toISOString(),
    closed_at: order.closedAt?.toISOString(),
    openid: order.openid,
    notification: order.notification,
    request: order.request,
  };
}
