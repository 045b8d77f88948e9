import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isSignType, verifySignature, type SignType } from '../infra/wechat/sign.js';
import { parseWeChatXml, WeChatXmlError } from '../infra/wechat/xml.js';
import type { SandboxCore } from './core.js';
import { checkRequest, handleEndpoint } from './endpoints.js';
import { chance, ENDPOINT_PATHS, ENDPOINTS, type Endpoint } from './faults.js';
import { businessError, invalidParam, protocolFail, render, RETURN_MSG, type Reply } from './wire.js';

/**
 * `/pay/unifiedorder`, `/pay/orderquery`, `/pay/closeorder`, `/secapi/pay/refund`,
 * `/pay/refundquery`: WeChat's wire protocol. WeChat wants a client certificate for `/secapi`;
 * the sandbox speaks plain HTTP and asks for none. Bodies are taken raw whatever their content
 * type (WeChat does not look at it) and parsed with the same hardened parser as the client;
 * Fastify only caps them at 1 MiB, our parser at 64 KiB.
 */
export function payRoutes(core: SandboxCore, shutdown: AbortSignal) {
  return async function register(app: FastifyInstance): Promise<void> {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 1024 * 1024 }, (_req, body, done) => done(null, body));

    for (const endpoint of ENDPOINTS) {
      const url = ENDPOINT_PATHS[endpoint];
      app.post(url, (req, reply) => answer(core, shutdown, endpoint, req, reply));
      app.route({
        method: ['GET', 'PUT', 'DELETE', 'PATCH'],
        url,
        handler: (_req, reply) => send(reply, render(protocolFail(RETURN_MSG.REQUIRE_POST_METHOD), { ...core.merchant, signType: 'MD5' }, 'none')),
      });
    }
  };
}

async function answer(core: SandboxCore, shutdown: AbortSignal, endpoint: Endpoint, req: FastifyRequest, reply: FastifyReply) {
  const faults = core.faults; // one consistent fault set per request
  const { result, signType, appId } = processRequest(core, endpoint, Buffer.isBuffer(req.body) ? req.body : undefined);
  const wire = render(result, { ...core.merchant, appId, signType }, faults.tamper[endpoint]);

  const delayMs = faults.delayMs[endpoint];
  if (delayMs > 0) {
    try {
      await sleep(delayMs, undefined, { signal: shutdown });
    } catch {
      return drop(req, reply); // shutting down: don't hold the server open for a slow answer
    }
  }
  if (chance(faults.dropRate[endpoint])) return drop(req, reply);
  return send(reply, wire);
}

function processRequest(core: SandboxCore, endpoint: Endpoint, body: Buffer | undefined): { result: Reply; signType: SignType; appId: string } {
  const merchant = core.merchant;
  const refuse = (result: Reply) => ({ result, signType: 'MD5' as const, appId: merchant.appId });
  if (!body || body.length === 0) return refuse(protocolFail(RETURN_MSG.POST_DATA_EMPTY));
  let f: Record<string, string>;
  try {
    f = parseWeChatXml(body);
  } catch (err) {
    if (!(err instanceof WeChatXmlError)) throw err;
    if (err.reason === 'empty') return refuse(protocolFail(RETURN_MSG.POST_DATA_EMPTY));
    return refuse(protocolFail(err.reason === 'not-utf8' ? RETURN_MSG.NOT_UTF8 : RETURN_MSG.XML_FORMAT_ERROR));
  }
  // The request picks its sign type (WeChat's rule); our answer is signed the same way.
  const signType = f.sign_type ?? 'MD5';
  if (!isSignType(signType)) return refuse(protocolFail(RETURN_MSG.SIGNERROR));
  if (!f.appid || !f.mch_id || !f.nonce_str) return refuse(protocolFail(RETURN_MSG.LACK_PARAMS));
  if (f.mch_id !== merchant.mchId) return refuse(protocolFail(RETURN_MSG.MCHID_NOT_EXIST));
  if (!verifySignature(f, merchant.apiKey, signType)) return refuse(protocolFail(RETURN_MSG.SIGNERROR));
  if (f.nonce_str.length > 32) return refuse(invalidParam('nonce_str'));
  const malformed = checkRequest(endpoint, f);
  if (malformed) return refuse(malformed);

  // Authentic from here on: answers are signed, echoing the appid the merchant sent.
  const authentic = (result: Reply) => ({ result, signType, appId: f.appid ?? merchant.appId });
  if (f.appid !== merchant.appId) return authentic(businessError('APPID_MCHID_NOT_MATCH', 'appid和mch_id不匹配'));
  if (chance(core.faults.systemErrorRate[endpoint])) {
    // downloadbill has no result_code layer: its errors are all return_code=FAIL
    return authentic(endpoint === 'downloadbill' ? protocolFail('SYSTEMERROR') : businessError('SYSTEMERROR', '系统错误'));
  }
  const result = handleEndpoint(endpoint, f, {
    store: core.store,
    faults: core.faults,
    now: core.now(),
    merchant: core.merchant,
    signType,
    timeScale: core.timeScale,
    pay: (order, via) => core.pay(order, via),
  });
  return authentic(result);
}

function send(reply: FastifyReply, wire: { status: number; contentType: string; body: string | Buffer }) {
  return reply.code(wire.status).type(wire.contentType).send(wire.body);
}

/** Lose the answer: the connection closes with no response at all. */
function drop(req: FastifyRequest, reply: FastifyReply) {
  reply.hijack();
  req.raw.socket.destroy();
  return reply;
}
