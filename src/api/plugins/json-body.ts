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
 * Everything else is Fastify's own parser, with its prototype-poisoning protection.
 */
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
});
