import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { type FastifyPluginAsyncZod, hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { readReviewBoard } from '../../domain/console/review-board.js';
import { readSaleFigures } from '../../domain/console/sale-figures.js';
import type { CoreDeps } from '../../domain/deps.js';
import { DomainError } from '../../domain/errors.js';
import { REVIEW_OUTCOMES, resolveReview } from '../../domain/reviews/resolve-review.js';
import { retryReview } from '../../domain/reviews/reviews.js';
import { DOMAIN_STATUS, HttpError } from '../http-errors.js';
import { BULL_BOARD_PATH } from '../plugins/bull-board.js';
import { CsrfGuard } from './csrf.js';
import { type Notice, type PageData, renderGoods, renderPage, renderRefusal, renderReviews } from './views.js';

export const CONSOLE_PATH = '/admin';

export interface ConsoleOptions {
  deps: CoreDeps;
  admin: { user: string; password: string };
  /** how often the page fetches its figures again */
  refreshMs?: number;
}

/** A state-changing request the CSRF guard refused (403). */
class CrossSiteRefusal extends Error {}

/**
 * Strict policy: scripts, styles and fetches from this origin only (no inline script or style
 * anywhere: the charts are SVG with presentation attributes), forms post only here, and no
 * other site may frame the console (clickjacking its buttons).
 */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
};

/** the other operator pages the console links to */
const LINKS = { bullBoard: BULL_BOARD_PATH, docs: '/docs', metrics: '/metrics', ready: '/ready' };

const asset = (name: string) => readFileSync(join(import.meta.dirname, 'static', name), 'utf8');

const orderParams = z.object({ orderId: z.string().max(32) });
const formToken = z.string().max(100).optional();
/** the notice shown after an action succeeded (303 See Other back to the page), as the page's query */
const noticeQuery = z.object({
  notice: z.enum(['resolved', 'retried']),
  order: z.string().regex(/^\d{1,32}$/),
  outcome: z.enum(REVIEW_OUTCOMES).optional(),
  status: z.string().regex(/^[A-Za-z_]{1,20}$/).optional(),
});

/**
 * The operator console (issue 14): server-rendered HTML behind the admin credentials, in a
 * scope of its own (its own error pages, form parser, CSRF guard and security headers; hidden
 * from the OpenAPI document, which describes the JSON API). Reads come from the domain's read
 * models (src/domain/console); the two actions call the very functions the admin API calls
 * (retryReview, resolveReview), so the page holds no logic of its own.
 */
export const consoleRoutes: FastifyPluginAsyncZod<ConsoleOptions> = async (app, { deps, admin, refreshMs = 2_000 }) => {
  const csrf = new CsrfGuard(admin);
  const assets = { css: asset('console.css'), js: asset('console.browser.js') };

  app.addHook('onRequest', app.requireAdmin);
  app.addHook('onSend', async (_request, reply) => {
    void reply.headers(SECURITY_HEADERS);
    // pages carry form tokens: never kept by a cache
    if (!reply.hasHeader('cache-control')) void reply.header('cache-control', 'no-store');
  });
  // HTML forms post url-encoded; only this scope accepts them (the JSON API stays JSON-only)
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 8 * 1024 }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(String(body))));
  });

  const pageData = async (extra: Partial<PageData> = {}): Promise<PageData> => {
    const [goods, reviews] = await Promise.all([readSaleFigures(deps), readReviewBoard(deps)]);
    return { goods, reviews, csrf: csrf.issue(), links: LINKS, refreshMs, ...extra };
  };
  const html = (reply: FastifyReply, status: number, body: string) => reply.status(status).type('text/html; charset=utf-8').send(body);

  /** The page again with why the action was refused, when the figures can be read; a plain page otherwise. */
  const refusedAction = async (request: FastifyRequest, reply: FastifyReply, status: number, title: string, message: string) => {
    try {
      return html(reply, status, renderPage(await pageData({ error: { title, message } })));
    } catch (err) {
      request.log.error({ err }, 'console: page not rendered');
      return html(reply, status, renderRefusal(status, title, message));
    }
  };

  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    if (error instanceof HttpError) return html(reply.headers(error.headers), error.statusCode, renderRefusal(error.statusCode, 'Unauthorized', error.message));
    if (error instanceof CrossSiteRefusal) return html(reply, 403, renderRefusal(403, 'Forbidden', `refused: ${error.message}. Use the buttons of the console page itself.`));
    if (error instanceof DomainError) return refusedAction(request, reply, DOMAIN_STATUS[error.code], 'Refused', error.message);
    if (hasZodFastifySchemaValidationErrors(error)) {
      const fields = error.validation.map((issue) => issue.instancePath.split('/').filter(Boolean).join('.') || String(error.validationContext)).join(', ');
      return refusedAction(request, reply, 400, 'Invalid input', `the form was not understood (${fields}).`);
    }
    const status = error.statusCode ?? 500;
    if (status < 500) return html(reply, status, renderRefusal(status, 'Bad request', error.message));
    request.log.error({ err: error }, 'console: unhandled error');
    return html(reply, 500, renderRefusal(500, 'Internal error', 'the console could not answer; see the API log.'));
  });

  /** preValidation: a state-changing request must come from our own page (csrf.ts says why and how). */
  const sameSiteForm = async (request: FastifyRequest) => {
    const body = request.body as { csrf?: unknown } | undefined;
    const refusal = csrf.check(request, body?.csrf);
    if (refusal) {
      request.log.warn({ refusal, origin: request.headers.origin, site: request.headers['sec-fetch-site'] }, 'console: state-changing request refused');
      throw new CrossSiteRefusal(refusal);
    }
  };

  app.get(CONSOLE_PATH, { schema: { hide: true } }, async (request, reply) => {
    const parsed = noticeQuery.safeParse(request.query);
    const notice: Notice | undefined = parsed.success
      ? { kind: parsed.data.notice, orderId: parsed.data.order, ...(parsed.data.outcome ? { outcome: parsed.data.outcome } : {}), ...(parsed.data.status ? { status: parsed.data.status } : {}) }
      : undefined;
    return html(reply, 200, renderPage(await pageData(notice ? { notice } : {})));
  });

  app.get(`${CONSOLE_PATH}/console/goods`, { schema: { hide: true } }, async (_request, reply) => html(reply, 200, renderGoods(await readSaleFigures(deps))));
  app.get(`${CONSOLE_PATH}/console/reviews`, { schema: { hide: true } }, async (_request, reply) => html(reply, 200, renderReviews(await readReviewBoard(deps), csrf.issue())));
  app.get(`${CONSOLE_PATH}/console/assets/console.css`, { schema: { hide: true } }, async (_request, reply) => reply.type('text/css; charset=utf-8').header('cache-control', 'no-cache').send(assets.css));
  app.get(`${CONSOLE_PATH}/console/assets/console.js`, { schema: { hide: true } }, async (_request, reply) => reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(assets.js));

  app.post(`${CONSOLE_PATH}/console/reviews/:orderId/retry`, {
    schema: { hide: true, params: orderParams, body: z.object({ csrf: formToken }) },
    preValidation: sameSiteForm,
  }, async (request, reply) => {
    const done = await retryReview(deps, request.params.orderId);
    return reply.redirect(`${CONSOLE_PATH}?${new URLSearchParams({ notice: 'retried', order: done.orderId }).toString()}#reviews`, 303);
  });

  app.post(`${CONSOLE_PATH}/console/reviews/:orderId/resolve`, {
    schema: { hide: true, params: orderParams, body: z.object({ csrf: formToken, outcome: z.enum(REVIEW_OUTCOMES) }) },
    preValidation: sameSiteForm,
  }, async (request, reply) => {
    const done = await resolveReview(deps, request.params.orderId, request.body.outcome);
    return reply.redirect(`${CONSOLE_PATH}?${new URLSearchParams({ notice: 'resolved', order: done.orderId, outcome: done.outcome, status: done.status }).toString()}#reviews`, 303);
  });
};
