import type { FastifyError, FastifyPluginAsync } from 'fastify';
import type { CoreDeps } from '../../domain/deps.js';
import { refuseWrongAmount } from '../../domain/orders/payment.js';
import { verifyNotification } from '../../domain/payments/verify-notification.js';
import type { PaymentPublisher } from '../../infra/amqp/payment-publisher.js';
import { buildXml, parseWeChatXml, WeChatXmlError } from '../../infra/wechat/xml.js';
import { text } from '../openapi/responses.js';

const NOTIFY_BODY_LIMIT = 64 * 1024;
const XML = 'text/xml';

const answer = (code: 'SUCCESS' | 'FAIL', msg: string) => buildXml({ return_code: code, return_msg: msg });
/** The answer to every accepted notification, built once. */
const ACCEPTED = answer('SUCCESS', 'OK');

/**
 * WeChat's payment notification (design §4.3). Accepted only after RabbitMQ confirmed the event;
 * otherwise FAIL, and WeChat's retry schedule is our outbox. Invalid notifications get FAIL with
 * a reason (HTTP 4xx), publish nothing and are counted.
 */
export const wechatNotifyRoutes: FastifyPluginAsync<{ deps: CoreDeps; publisher: PaymentPublisher }> = async (app, { deps, publisher }) => {
  // Raw body whatever the content type (WeChat sends text/xml, but a wrong or missing header must
  // still get WeChat's XML FAIL, not the JSON error of a parser): the XML is checked (DOCTYPE,
  // size) before any parser sees it. These settings apply to this plugin's routes only.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: NOTIFY_BODY_LIMIT }, (_req, body, done) => done(null, body));

  // Errors raised before the handler runs (body over the limit, aborted upload…) answer in
  // WeChat's XML too, and are counted like every other refusal.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    deps.metrics.notifications.inc({ result: status < 500 ? 'invalid' : 'error' });
    if (status < 500) request.log.warn({ reason: error.message }, 'wechat notification refused');
    else request.log.error({ err: error }, 'wechat notification failed');
    return reply
      .status(status)
      .type('text/xml; charset=utf-8')
      .send(answer('FAIL', status === 413 ? 'body too large' : status < 500 ? error.message : 'internal error'));
  });

  app.post('/pay/wechat/notify', {
    bodyLimit: NOTIFY_BODY_LIMIT,
    schema: {
      tags: ['wechat'],
      summary: 'WeChat Pay v2 payment notification (text/xml); replies XML SUCCESS or FAIL',
      description: 'Called by WeChat Pay, not by clients. The body is the signed XML notification; every answer is WeChat\'s XML `<xml><return_code>…</return_code><return_msg>…</return_msg></xml>`.',
      response: {
        200: text(XML, 'SUCCESS: accepted (payment event confirmed by RabbitMQ, or a wrong amount recorded for review)'),
        400: text(XML, 'FAIL: empty body, bad XML, bad signature, other merchant, missing fields'),
        413: text(XML, 'FAIL: body too large'),
        500: text(XML, 'FAIL: internal error (WeChat retries)'),
        503: text(XML, 'FAIL: the event could not be handed to RabbitMQ (WeChat retries)'),
      },
    },
  }, async (request, reply) => {
    reply.type('text/xml; charset=utf-8');
    const fail = (status: 400 | 503, reason: string, result: string) => {
      deps.metrics.notifications.inc({ result });
      request.log.warn({ reason }, 'wechat notification refused');
      return reply.status(status).send(answer('FAIL', reason));
    };
    const body = request.body;
    if (!Buffer.isBuffer(body) || body.length === 0) return fail(400, 'empty body', 'invalid');
    let fields: Record<string, string>;
    try {
      fields = parseWeChatXml(body, NOTIFY_BODY_LIMIT);
    } catch (err) {
      if (err instanceof WeChatXmlError) return fail(400, `bad XML: ${err.message}`, 'invalid');
      throw err;
    }
    const check = verifyNotification(fields, deps.config.wechat);
    if (!check.ok) return fail(400, check.reason, 'invalid');
    try {
      const wrongAmount = await refuseWrongAmount(deps, fields);
      if (wrongAmount) {
        // design §7: recorded (review + the payment, in the outbox) and acknowledged, so WeChat
        // stops retrying for 24 h; a person settles it (refund) from the review list
        deps.metrics.notifications.inc({ result: 'amount-mismatch' });
        request.log.warn({ outTradeNo: check.outTradeNo, reason: wrongAmount }, 'wrong amount: recorded for review, acknowledged');
        return reply.status(200).send(ACCEPTED);
      }
    } catch (err) {
      // Redis or MySQL trouble must not cost a payment: publish anyway, the payment job checks
      // the amount against the order again.
      request.log.warn({ err: (err as Error).message, outTradeNo: check.outTradeNo }, 'amount check skipped');
    }
    try {
      await publisher.publish(fields);
    } catch (err) {
      request.log.error({ err: (err as Error).message, outTradeNo: check.outTradeNo }, 'payment event not confirmed by RabbitMQ');
      return fail(503, 'temporarily unable to accept the notification', 'publish-failed');
    }
    deps.metrics.notifications.inc({ result: 'accepted' });
    return reply.status(200).send(ACCEPTED);
  });
};
