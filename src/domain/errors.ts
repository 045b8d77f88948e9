/**
 * The one catalogue of domain errors. The domain throws these; only the HTTP edge
 * (src/api/plugins/error-handler.ts) maps them to status codes.
 */
export type DomainErrorCode =
  | 'GOODS_NOT_FOUND'
  | 'ORDER_NOT_FOUND'
  | 'NOT_ON_SALE'
  | 'SOLD_OUT'
  | 'REPEAT_ORDER'
  | 'ORDER_NOT_PAYABLE'
  | 'ORDER_NOT_CANCELLABLE'
  | 'REVIEW_NOT_FOUND'
  | 'REVIEW_NOT_RETRYABLE'
  | 'REVIEW_ALREADY_RESOLVED'
  | 'REVIEW_OUTCOME_NOT_POSSIBLE'
  | 'RECONCILIATION_NOT_FOUND'
  | 'INVALID_INPUT'
  | 'PAYMENT_PROVIDER_ERROR'
  | 'PAYMENT_PROVIDER_UNAVAILABLE';

export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const goodsNotFound = (id: string) => new DomainError('GOODS_NOT_FOUND', `goods ${id} does not exist`);
export const orderNotFound = (id: string) => new DomainError('ORDER_NOT_FOUND', `order ${id} does not exist`);
