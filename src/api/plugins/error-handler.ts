import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { DomainError } from '../../domain/errors.js';
import { DOMAIN_STATUS, type EdgeErrorCode, type ErrorBody, HttpError, domainErrorBody } from '../http-errors.js';

/** Infrastructure that is down: the request may succeed later, so 503 rather than 500. */
function isUnavailable(err: Error): boolean {
  const text = `${err.name} ${err.message}`;
  return /ECONNREFUSED|ETIMEDOUT|Connection is closed|Stream isn't writeable|enableOfflineQueue|MaxRetriesPerRequest|pool timeout|Can't reach database|Too many connections/i.test(text);
}

/**
 * Fastify's own 4xx errors in our words: its `FST_ERR_*` codes are its internals, not our
 * contract, so none of them reaches a client. Unknown ones fall back on their status.
 */
const FASTIFY_4XX: Record<string, [EdgeErrorCode, string]> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ['UNSUPPORTED_MEDIA_TYPE', 'the body must be JSON: send Content-Type: application/json'],
  FST_ERR_CTP_BODY_TOO_LARGE: ['PAYLOAD_TOO_LARGE', 'the request body is too large'],
  FST_ERR_CTP_INVALID_JSON_BODY: ['INVALID_JSON', 'the body is not valid JSON'],
};
const BY_STATUS: Partial<Record<number, EdgeErrorCode>> = { 404: 'ROUTE_NOT_FOUND', 413: 'PAYLOAD_TOO_LARGE', 415: 'UNSUPPORTED_MEDIA_TYPE' };

type Issue = { instancePath: string; message?: string | undefined; params: unknown };

/** The request part a validation error is about (`body`, `querystring`, `params`, `headers`). */
function inputOf(request: FastifyRequest, context: string | undefined): unknown {
  if (context === 'querystring') return request.query;
  if (context === 'params') return request.params;
  if (context === 'headers') return request.headers;
  return request.body;
}

function valueAt(input: unknown, path: string[]): unknown {
  return path.reduce<unknown>((value, key) => (value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined), input);
}

/**
 * Zod's issues as `fields` and one message. A field that is absent reads "required" (zod says
 * "Invalid input" for a missing union and "expected string, received undefined" for a missing
 * string: neither tells a client what to do).
 */
function validationBody(issues: Issue[], context: string | undefined, input: unknown): ErrorBody {
  const where = context ?? 'request';
  const described = issues.map((issue) => {
    const path = issue.instancePath.split('/').filter(Boolean);
    const field = path.join('.') || where;
    const missing = path.length > 0 && valueAt(input, path) === undefined;
    return { field, text: missing ? 'required' : (issue.message ?? 'invalid') };
  });
  return {
    code: 'VALIDATION_ERROR',
    message: `invalid ${where}: ${described.map((d) => `${d.field}: ${d.text}`).join('; ')}`,
    fields: [...new Set(described.map((d) => d.field))],
  };
}

/**
 * The router's own refusals (Fastify's `frameworkErrors`): a URL that does not decode, a path
 * parameter longer than the router accepts (e.g. a 5 KB order id). They never reach a route or
 * the error handler, so they are answered here, in our shape.
 */
export function routerErrorReply(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const message = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path parameter is too long' : 'the URL is malformed';
  void reply.status(400).send({ code: 'BAD_REQUEST', message } satisfies ErrorBody);
}

export const errorHandler = fp(async (app: FastifyInstance) => {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof DomainError) {
      return reply.status(DOMAIN_STATUS[error.code]).send(domainErrorBody(error));
    }
    if (error instanceof HttpError) {
      return reply.status(error.statusCode).headers(error.headers).send({ code: error.code, message: error.message } satisfies ErrorBody);
    }
    if (hasZodFastifySchemaValidationErrors(error)) {
      return reply.status(400).send(validationBody(error.validation, error.validationContext, inputOf(request, error.validationContext)));
    }
    const status = error.statusCode ?? 500;
    if (status < 500) {
      const known = FASTIFY_4XX[error.code];
      if (known) return reply.status(status).send({ code: known[0], message: known[1] } satisfies ErrorBody);
      if (error instanceof SyntaxError) return reply.status(400).send({ code: 'INVALID_JSON', message: `the body is not valid JSON: ${error.message}` } satisfies ErrorBody);
      // Fastify's message describes the client's mistake (a bad URL, a Content-Length that lies)
      return reply.status(status).send({ code: BY_STATUS[status] ?? 'BAD_REQUEST', message: error.message } satisfies ErrorBody);
    }
    if (isUnavailable(error)) {
      request.log.error({ err: error }, 'dependency unavailable');
      return reply.status(503).send({ code: 'SERVICE_UNAVAILABLE', message: 'a backing service is unavailable; retry shortly' } satisfies ErrorBody);
    }
    request.log.error({ err: error }, 'unhandled error');
    return reply.status(500).send({ code: 'INTERNAL_ERROR', message: 'internal error' } satisfies ErrorBody);
  });

  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ code: 'ROUTE_NOT_FOUND', message: `no route ${request.method} ${request.url}` } satisfies ErrorBody),
  );
});
