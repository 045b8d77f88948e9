import { z } from 'zod';
import { API_ERROR_STATUS, type ApiErrorCode } from '../http-errors.js';
import { ApiError } from './components.js';

/**
 * Building blocks of the routes' `schema.response`: a success body with its description, and
 * the error statuses of a route from the list of codes it can return (each code's status comes
 * from the one table in http-errors.ts, so the document cannot disagree with the handler).
 */

interface MediaResponse<S extends z.ZodType> {
  description: string;
  content: Record<string, { schema: S }>;
}

export const json = <S extends z.ZodType>(schema: S, description: string): MediaResponse<S> => ({
  description,
  content: { 'application/json': { schema } },
});

export const text = (contentType: string, description: string): MediaResponse<z.ZodString> => ({
  description,
  content: { [contentType]: { schema: z.string() } },
});

/** What any route may meet: a bug (500), or Redis / MySQL / RabbitMQ down (503). */
export const SERVER = ['INTERNAL_ERROR', 'SERVICE_UNAVAILABLE'] as const satisfies ApiErrorCode[];
/** Buyer or admin routes: no, or a bad, token / credentials. */
export const AUTH = ['UNAUTHORIZED'] as const satisfies ApiErrorCode[];
/** Path or query parameters that do not match their schema, or do not decode. */
export const PARAMS = ['VALIDATION_ERROR', 'BAD_REQUEST'] as const satisfies ApiErrorCode[];
/** Every POST (a body is parsed whenever one is sent, even where none is expected; BAD_REQUEST: a Content-Length that lies). */
export const BODY = ['VALIDATION_ERROR', 'INVALID_JSON', 'BAD_REQUEST', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'] as const satisfies ApiErrorCode[];

type ErrorResponses = Record<number, MediaResponse<z.ZodType>>;

/** One response per status, its `code` narrowed to the codes listed for the route. */
export function errors(...lists: (readonly ApiErrorCode[] | ApiErrorCode)[]): ErrorResponses {
  const byStatus = new Map<number, ApiErrorCode[]>();
  for (const code of new Set(lists.flat())) {
    const status = API_ERROR_STATUS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: ErrorResponses = {};
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    const schema = ApiError.extend({ code: z.enum(codes as [ApiErrorCode, ...ApiErrorCode[]]) });
    responses[status] = json(schema, codes.join(' | '));
  }
  return responses;
}
