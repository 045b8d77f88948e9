import { z } from 'zod';

/**
 * Fault injection for the sandbox's WeChat endpoints, set over `POST /sandbox/faults`.
 *
 * Where a fault acts, so tests know what state WeChat ends up in:
 * - `systemErrorRate`: answered after authentication and before anything is applied (a signed
 *   `result_code=FAIL, err_code=SYSTEMERROR, err_code_des=系统错误`): nothing changed.
 * - `delayMs`, `dropRate`, `tamper`: act on the answer, after the request was applied. That is
 *   the hard case for a caller: the close (order, refund) happened at "WeChat" but the answer is
 *   late, lost or untrustworthy; a retry then sees ORDERCLOSED / the re-entry answer / the same
 *   refund (a refund is idempotent on out_refund_no).
 * - `closeRule`: WeChat's "no closeorder within 5 minutes of creation" (5 min × time scale).
 *   WeChat documents no answer for it; the sandbox answers the retryable
 *   `err_code=SYSTEMERROR, err_code_des=订单创建5分钟内不能关闭`. **On by default**, as at
 *   WeChat, so `npm start` and the tests meet the rule the product must respect
 *   (`SANDBOX_CLOSE_RULE=off` or this fault turn it off).
 * - `dropNotifications`: a payment is recorded but its notification is never sent (WeChat does not
 *   guarantee delivery; the merchant must look the order up). `POST /sandbox/notify` still sends.
 * - `billTotalFee`, `billTamper`: the daily bill (`/pay/downloadbill`) reports other amounts for
 *   some orders, or is broken (see bill.ts).
 * - `payDuringClose`: when a closeorder arrives for an unpaid order (all orders when `true`, or
 *   only the listed out_trade_nos), the buyer's payment lands first: the order becomes paid, its
 *   notification is sent, and the close answers ORDERPAID.
 */
export const ENDPOINTS = ['unifiedorder', 'orderquery', 'closeorder', 'refund', 'refundquery', 'downloadbill'] as const;
export type Endpoint = (typeof ENDPOINTS)[number];

/** Where each endpoint answers: WeChat serves refunds under `/secapi` (the client-certificate host path). */
export const ENDPOINT_PATHS: Readonly<Record<Endpoint, string>> = {
  unifiedorder: '/pay/unifiedorder',
  orderquery: '/pay/orderquery',
  closeorder: '/pay/closeorder',
  refund: '/secapi/pay/refund',
  refundquery: '/pay/refundquery',
  downloadbill: '/pay/downloadbill',
};

/**
 * How the (otherwise correct) answer is spoiled: a wrong signature, no signature, another
 * merchant's appid / mch_id (correctly signed), an HTTP 500 from "a gateway", a non-XML body.
 */
export const TAMPERS = ['none', 'bad-signature', 'unsigned', 'other-appid', 'other-mch-id', 'http-500', 'non-xml'] as const;
export type Tamper = (typeof TAMPERS)[number];

export type PerEndpoint<T> = Readonly<Record<Endpoint, T>>;

/**
 * How the daily bill is spoiled: its summary line does not add up, its rows are another
 * merchant's, its header is a layout nobody knows, or the body is cut off before the summary.
 */
export const BILL_TAMPERS = ['none', 'summary-mismatch', 'other-mch-id', 'unknown-layout', 'truncated'] as const;
export type BillTamper = (typeof BILL_TAMPERS)[number];

export interface Faults {
  readonly systemErrorRate: PerEndpoint<number>;
  readonly delayMs: PerEndpoint<number>;
  readonly dropRate: PerEndpoint<number>;
  readonly tamper: PerEndpoint<Tamper>;
  readonly closeRule: boolean;
  readonly dropNotifications: boolean;
  readonly payDuringClose: boolean | readonly string[];
  /** the daily bill reports this amount (fen) for these out_trade_nos instead of what was paid */
  readonly billTotalFee: Readonly<Record<string, number>>;
  readonly billTamper: BillTamper;
}

const every = <T>(value: T): PerEndpoint<T> => ({ unifiedorder: value, orderquery: value, closeorder: value, refund: value, refundquery: value, downloadbill: value });

export const DEFAULT_FAULTS: Faults = Object.freeze({
  systemErrorRate: every(0),
  delayMs: every(0),
  dropRate: every(0),
  tamper: every<Tamper>('none'),
  closeRule: true,
  dropNotifications: false,
  payDuringClose: false,
  billTotalFee: {},
  billTamper: 'none',
});

// Each per-endpoint fault takes one value for every endpoint or an object naming some of them.
const perEndpoint = <S extends z.ZodType>(value: S) =>
  z.union([value, z.object({ unifiedorder: value, orderquery: value, closeorder: value, refund: value, refundquery: value, downloadbill: value }).partial().strict()]);

export const faultsPatchSchema = z
  .object({
    systemErrorRate: perEndpoint(z.number().min(0).max(1)),
    delayMs: perEndpoint(z.number().int().min(0).max(600_000)),
    dropRate: perEndpoint(z.number().min(0).max(1)),
    tamper: perEndpoint(z.enum(TAMPERS)),
    closeRule: z.boolean(),
    dropNotifications: z.boolean(),
    payDuringClose: z.union([z.boolean(), z.array(z.string().min(1).max(32))]),
    billTotalFee: z.record(z.string().min(1).max(32), z.number().int().min(1)),
    billTamper: z.enum(BILL_TAMPERS),
  })
  .partial()
  .strict();
export type FaultsPatch = z.infer<typeof faultsPatchSchema>;

function merge<T>(current: PerEndpoint<T>, patch: T | Partial<Record<Endpoint, T>> | undefined, isScalar: (v: unknown) => v is T): PerEndpoint<T> {
  if (patch === undefined) return current;
  if (isScalar(patch)) return every(patch);
  return { ...current, ...patch };
}

const isNumber = (v: unknown): v is number => typeof v === 'number';
const isTamper = (v: unknown): v is Tamper => typeof v === 'string';

/** Apply a partial update; fields not named keep their current value. */
export function applyFaults(current: Faults, patch: FaultsPatch): Faults {
  return {
    systemErrorRate: merge(current.systemErrorRate, patch.systemErrorRate, isNumber),
    delayMs: merge(current.delayMs, patch.delayMs, isNumber),
    dropRate: merge(current.dropRate, patch.dropRate, isNumber),
    tamper: merge(current.tamper, patch.tamper, isTamper),
    closeRule: patch.closeRule ?? current.closeRule,
    dropNotifications: patch.dropNotifications ?? current.dropNotifications,
    payDuringClose: patch.payDuringClose ?? current.payDuringClose,
    billTotalFee: patch.billTotalFee ?? current.billTotalFee,
    billTamper: patch.billTamper ?? current.billTamper,
  };
}

export function paysDuringClose(faults: Faults, outTradeNo: string): boolean {
  const setting = faults.payDuringClose;
  return typeof setting === 'boolean' ? setting : setting.includes(outTradeNo);
}

/** A rate of 0 or 1 is deterministic, so tests using them never flake. */
export function chance(rate: number): boolean {
  return rate >= 1 || (rate > 0 && Math.random() < rate);
}
