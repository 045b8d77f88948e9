import type { FastifyError, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { DomainError, type DomainErrorCode } from '../../domain/errors.js';

/** The only place domain errors become HTTP statuses. */
const STATUS: Record<DomainErrorCode, number> = {
  GOODS_NOT_FOUND: 404,
  ORDER_NOT_FOUND: 404,
  REVIEW_NOT_FOUND: 404,
  REVIEW_NOT_RETRYABLE: 409,
  REVIEW_ALREADY_RESOLVED: 409,
  REVIEW_OUTCOME_NOT_POSSIBLE: 409,
  NOT_ON_SALE: 409,
  SOLD_OUT: 409,
  REPEAT_ORDER: 409,
  ORDER_NOT_PAYABLE: 409,
  ORDER_NOT_CANCELLABLE: 409,
  INVALID_INPUT: 400,
  PAYMENT_PROVIDER_ERROR: 502,
  PAYMENT_PROVIDER_UNAVAILABLE: 503,
};

/** Infrastructure that is down: the request may succeed later, so 503 rather than 500. */
function isUnavailable(err: Error): boolean {
  const text = `${err.name} ${err.message}`;
  return /ECONNREFUSED|ETIMEDOUT|Connection is closed|Stream isn't writeable|enableOfflineQueue|MaxRetriesPerRequest|pool timeout|Can't reach database|Too many connections/i.test(text);
}

export const errorHandler = fp(async (app: FastifyInstance) => {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof DomainError) {
      return reply.status(STATUS[error.code]).send({ code: error.code, message: error.message, ...error.details });
    }
    if (hasZodFastifySchemaValidationErrors(error)) {
      const fields = error.validation.map((issue) => {
        const path = issue.instancePath.replace(/^\//, '').replace(/\//g, '.');
        return path || (issue.params as { issue?: { path?: unknown[] } }).issue?.path?.join('.') || error.validationContext || 'body';
      });
      const detail = error.validation.map((issue, i) => `${fields[i]}: ${issue.message}`).join('; ');
      return reply.status(400).send({ code: 'VALIDATION_ERROR', message: `invalid ${error.validationContext ?? 'request'}: ${detail}`, fields });
    }
    const status = error.statusCode ?? 500;
    if (status < 500) {
      const code = status === 401 ? 'UNAUTHORIZED' : error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error instanceof SyntaxError ? 'INVALID_JSON' : (error.code ?? 'BAD_REQUEST');
      return reply.status(status).send({ code, message: error.message });
    }
    if (isUnavailable(error)) {
      request.log.error({ err: error }, 'dependency unavailable');
      return reply.status(503).send({ code: 'SERVICE_UNAVAILABLE', message: 'a backing service is unavailable; retry shortly' });
    }
    request.log.error({ err: error }, 'unhandled error');
    return reply.status(500).send({ code: 'INTERNAL_ERROR', message: 'internal error' });
  });

  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ code: 'ROUTE_NOT_FOUND', message: `no route ${request.method} ${request.url}` }),
  );
});
