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

/**
 * How long WeChat takes to carry out an accepted refund, before scaling by the sandbox's time
 * scale: a refund is PROCESSING until then and SUCCESS from then on (computed from the clock, so
 * deterministic; nothing fails or is closed).
 */
export const REFUND_DELAY_MS = 10_000;

export type RefundStatus = 'PROCESSING' | 'SUCCESS';

/** `refund_account`: which of the merchant's funds pay the refund (old fund flow merchants only). */
export const REFUND_ACCOUNTS = ['REFUND_SOURCE_UNSETTLED_FUNDS', 'REFUND_SOURCE_RECHARGE_FUNDS'] as const;
export type RefundAccount = (typeof REFUND_ACCOUNTS)[number];

export interface SandboxRefund {
  readonly outTradeNo: string;
  readonly outRefundNo: string;
  /** 29 digits like WeChat's (`503…`); unique here. */
  readonly refundId: string;
  readonly refundFee: number;
  /** The order's amount, as the request stated it (it must equal the order's). */
  readonly totalFee: number;
  readonly refundAccount: RefundAccount;
  readonly refundDesc: string | undefined;
  /** Accepted and kept; the sandbox sends no refund notifications. */
  readonly notifyUrl: string | undefined;
  readonly requestedAt: Date;
  /** requestedAt + REFUND_DELAY_MS × time scale: PROCESSING before, SUCCESS from then on. */
  readonly succeedsAt: Date;
  /** `refund`: /secapi/pay/refund; `control`: POST /sandbox/refund (a refund made elsewhere). */
  readonly via: 'refund' | 'control';
}

export type NewRefund = Pick<SandboxRefund, 'outRefundNo' | 'refundFee' | 'totalFee' | 'refundAccount' | 'refundDesc' | 'notifyUrl' | 'via'>;

export function refundStatus(refund: SandboxRefund, now: Date): RefundStatus {
  return now.getTime() >= refund.succeedsAt.getTime() ? 'SUCCESS' : 'PROCESSING';
}

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
  /** Refunds in the order they were requested (one per out_refund_no). */
  readonly refunds: SandboxRefund[];
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

/** One per distinct refund (out_refund_no), never per repeated request. */
export interface RefundEntry {
  readonly out_trade_no: string;
  readonly out_refund_no: string;
  readonly refund_id: string;
  readonly refund_fee: number;
  readonly total_fee: number;
  readonly requested_at: string;
  readonly via: SandboxRefund['via'];
}

export interface Ledger {
  readonly paid: PaidEntry[];
  readonly closed: ClosedEntry[];
  readonly notifications: DeliveryEntry[];
  readonly refunds: RefundEntry[];
}

export type NewOrder = Omit<SandboxOrder, 'state' | 'prepayId' | 'codeUrl' | 'createdAt' | 'notification' | 'refunds'>;

const emptyLedger = (): Ledger => ({ paid: [], closed: [], notifications: [], refunds: [] });

export class SandboxStore {
  readonly #orders = new Map<string, SandboxOrder>();
  readonly #byTransactionId = new Map<string, SandboxOrder>();
  readonly #refundsByOutRefundNo = new Map<string, SandboxRefund>();
  readonly #refundsById = new Map<string, SandboxRefund>();
  readonly #refundDelayMs: number;
  #ledger: Ledger = emptyLedger();

  /** `refundDelayMs`: REFUND_DELAY_MS already multiplied by the time scale. */
  constructor(options: { readonly refundDelayMs: number }) {
    this.#refundDelayMs = options.refundDelayMs;
  }

  get(outTradeNo: string): SandboxOrder | undefined {
    return this.#orders.get(outTradeNo);
  }

  /** Every order, in creation order (the daily bill walks them). */
  all(): IterableIterator<SandboxOrder> {
    return this.#orders.values();
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
      refunds: [],
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

  refundByOutRefundNo(outRefundNo: string): SandboxRefund | undefined {
    return this.#refundsByOutRefundNo.get(outRefundNo);
  }

  refundById(refundId: string): SandboxRefund | undefined {
    return this.#refundsById.get(refundId);
  }

  /** What the order's refunds add up to, PROCESSING ones included (that money is committed). */
  refundedFee(order: SandboxOrder): number {
    return order.refunds.reduce((sum, r) => sum + r.refundFee, 0);
  }

  /**
   * Record a new refund of a paid order: SUCCESS/REFUND → REFUND (still "paid" for
   * unifiedorder/closeorder: ORDERPAID). The caller checked the state, the amounts and that the
   * out_refund_no is new.
   */
  addRefund(order: SandboxOrder, input: NewRefund, now: Date): SandboxRefund {
    const refund: SandboxRefund = {
      ...input,
      outTradeNo: order.outTradeNo,
      refundId: this.#newRefundId(now),
      requestedAt: now,
      succeedsAt: new Date(now.getTime() + this.#refundDelayMs),
    };
    order.refunds.push(refund);
    order.state = 'REFUND';
    this.#refundsByOutRefundNo.set(refund.outRefundNo, refund);
    this.#refundsById.set(refund.refundId, refund);
    this.#ledger.refunds.push({
      out_trade_no: refund.outTradeNo,
      out_refund_no: refund.outRefundNo,
      refund_id: refund.refundId,
      refund_fee: refund.refundFee,
      total_fee: refund.totalFee,
      requested_at: now.toISOString(),
      via: refund.via,
    });
    return refund;
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
    this.#refundsByOutRefundNo.clear();
    this.#refundsById.clear();
    this.#ledger = emptyLedger();
  }

  /** 28 digits like WeChat's: `4200` + `00` + Beijing date + 14 random digits; unique here. */
  #newTransactionId(now: Date): string {
    for (;;) {
      const tail = String(randomInt(10_000_000)).padStart(7, '0') + String(randomInt(10_000_000)).padStart(7, '0');
      const id = `420000${toBeijingTime(now).slice(0, 8)}${tail}`;
      if (!this.#byTransactionId.has(id)) return id;
    }
  }

  /** 29 digits like WeChat's refund ids: `503000` + Beijing date + 15 random digits; unique here. */
  #newRefundId(now: Date): string {
    for (;;) {
      const tail = String(randomInt(100_000_000)).padStart(8, '0') + String(randomInt(10_000_000)).padStart(7, '0');
      const id = `503000${toBeijingTime(now).slice(0, 8)}${tail}`;
      if (!this.#refundsById.has(id)) return id;
    }
  }
}

/** The JSON view of an order for `GET /sandbox/orders/:outTradeNo`; refund statuses as of `now`. */
export function orderView(order: SandboxOrder, now: Date): Record<string, unknown> {
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
    refunds: order.refunds.map((r) => {
      const status = refundStatus(r, now);
      return {
        out_refund_no: r.outRefundNo,
        refund_id: r.refundId,
        refund_fee: r.refundFee,
        total_fee: r.totalFee,
        refund_status: status,
        requested_at: r.requestedAt.toISOString(),
        success_time: status === 'SUCCESS' ? r.succeedsAt.toISOString() : undefined,
        via: r.via,
      };
    }),
  };
}
