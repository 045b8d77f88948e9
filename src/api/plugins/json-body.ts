import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * Request bodies are JSON, and only JSON (the WeChat notification replaces these parsers in
 * its own scope).
 *
 * - An empty body with `Content-Type: application/json` is an object without fields: a route
 *   that takes no body (pay, cancel, retry) accepts it, as clients commonly send it, and a route
 *   that needs fields answers VALIDATION_ERROR naming each one "required", instead of Fastify's
 *   refusal of the empty string, which names nothing.
 * - `text/plain` is refused (415 UNSUPPORTED_MEDIA_TYPE) like every other non-JSON type, rather
 *   than handed to the schema as a string.
 *
 * - A body over the limit gets its 413 on a connection that stays open while the rest of the
 *   body is read and discarded, up to LINGER_MAX_BYTES declared in Content-Length. Fastify closes
 *   the connection on any body error; a client still writing a large body then meets a reset
 *   (EPIPE) before it can read the answer. Beyond that size, or without a declared length, the
 *   connection is still closed: discarding is not worth unbounded reading.
 *
 * Everything else is Fastify's own parser, with its prototype-poisoning protection.
 */
const LINGER_MAX_BYTES = 16 * 1024 * 1024;

export const jsonBody = fp(async (app: FastifyInstance) => {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body: string, done) => {
    if (body.length === 0) {
      done(null, {});
      return;
    }
    void parseJson(request, body, done); // synchronous: it calls `done` before returning
  });

  // an onError hook runs only for errors (before any scope's error handler), not for every reply
  app.addHook('onError', (request, reply, error, done) => {
    if ((error as { code?: string }).code === 'FST_ERR_CTP_BODY_TOO_LARGE' && Number(request.headers['content-length']) <= LINGER_MAX_BYTES) reply.removeHeader('connection');
    done();
  });
});
