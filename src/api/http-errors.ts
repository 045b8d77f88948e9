import type { DomainError, DomainErrorCode } from '../domain/errors.js';

/**
 * Every `code` an API error body can carry, and the status each comes with. Domain codes come
 * from the domain's catalogue (src/domain/errors.ts); the edge adds its own for what only HTTP
 * can get wrong (auth, media types, JSON, validation, unknown routes, backing services down).
 * The OpenAPI document lists, per route and status, a subset of these (src/api/openapi/).
 */
export const EDGE_ERROR_STATUS = {
  VALIDATION_ERROR: 400,
  INVALID_JSON: 400,
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  ROUTE_NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  INTERNAL_ERROR: 500,
  SERVICE_UNAVAILABLE: 503,
} as const;

export type EdgeErrorCode = keyof typeof EDGE_ERROR_STATUS;

/**
 * Domain codes as clients see them: INVALID_INPUT (the domain's own check of what the request
 * schema already checks) reads as the edge's VALIDATION_ERROR, so a client handles one code for
 * "fix your input".
 */
export type ApiErrorCode = Exclude<DomainErrorCode, 'INVALID_INPUT'> | EdgeErrorCode;

/** The only place domain errors become HTTP statuses. */
export const DOMAIN_STATUS: Record<DomainErrorCode, number> = {
  GOODS_NOT_FOUND: 404,
  ORDER_NOT_FOUND: 404,
  REVIEW_NOT_FOUND: 404,
  REVIEW_NOT_RETRYABLE: 409,
  REVIEW_ALREADY_RESOLVED: 409,
  REVIEW_OUTCOME_NOT_POSSIBLE: 409,
  RECONCILIATION_NOT_FOUND: 404,
  NOT_ON_SALE: 409,
  SOLD_OUT: 409,
  REPEAT_ORDER: 409,
  ORDER_NOT_PAYABLE: 409,
  ORDER_NOT_CANCELLABLE: 409,
  INVALID_INPUT: 400,
  PAYMENT_PROVIDER_ERROR: 502,
  PAYMENT_PROVIDER_UNAVAILABLE: 503,
};

export function apiCodeOf(code: DomainErrorCode): ApiErrorCode {
  return code === 'INVALID_INPUT' ? 'VALIDATION_ERROR' : code;
}

/** Every code a client can meet, with its status (the OpenAPI document groups codes by it). */
export const API_ERROR_STATUS = {
  ...EDGE_ERROR_STATUS,
  ...Object.fromEntries(Object.entries(DOMAIN_STATUS).filter(([code]) => code !== 'INVALID_INPUT')),
} as Readonly<Record<ApiErrorCode, number>>;

export const API_ERROR_CODES = Object.keys(API_ERROR_STATUS) as [ApiErrorCode, ...ApiErrorCode[]];

/** An error the edge itself raises (authentication), with its status and response headers. */
export class HttpError extends Error {
  readonly statusCode: number;

  constructor(
    readonly code: EdgeErrorCode,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'HttpError';
    this.statusCode = EDGE_ERROR_STATUS[code];
  }
}

/** The contract's error body. */
export interface ErrorBody {
  code: ApiErrorCode;
  message: string;
  fields?: string[];
}

/** A domain error as the contract's body (the error handler's answer for every DomainError). */
export function domainErrorBody(error: DomainError): ErrorBody {
  const fields = error.details?.fields;
  return { code: apiCodeOf(error.code), message: error.message, ...(Array.isArray(fields) ? { fields: fields.map(String) } : {}) };
}
