import { createHmac } from 'node:crypto';
import { signFields } from '../../src/infra/wechat/sign.js';
import { buildXml } from '../../src/infra/wechat/xml.js';
import { signBuyerToken } from '../../src/cli/dev-token.js';
import type { Reply } from '../lib/client.js';
import { SECRETS } from '../lib/cluster.js';
import { type Experiment, type ExperimentContext, finish, Sale, sleep } from '../lib/experiment.js';
import { snapshot, snapshotDiff } from '../lib/invariants.js';

/**
 * A corpus of hostile requests on every route, sent while the sale is quiet: malformed and huge
 * bodies, XML with entities/DOCTYPE/duplicated tags, forged and replayed notifications,
 * `alg=none`, expired and foreign JWTs, other buyers' orders, the admin API and Bull Board
 * without (or with wrong) credentials. Each must get a 4xx (the replay: WeChat's SUCCESS, as the
 * payment is already known) with our own error shape, never a 5xx; Redis and MySQL must be
 * exactly as they were.
 */

// the sandbox merchant (WeChat's signature test vector), which the chaos system runs with
const MERCHANT = { appid: 'wxd930ea5d5a258f4f', mch_id: '10000100', key: '192006250b4c09247ec02edce69f6a2d' };

interface Case {
  name: string;
  send(): Promise<Reply<unknown>>;
  /** the statuses that are right; every case must also avoid 5xx and no answer */
  ok: (status: number, body: unknown) => boolean;
}

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const is4xx = (status: number) => status >= 400 && status < 500;
const xmlFail = (status: number, body: unknown) => status === 400 && typeof body === 'string' && body.includes('<return_code><![CDATA[FAIL]]></return_code>');
const xmlSuccess = (status: number, body: unknown) => status === 200 && typeof body === 'string' && body.includes('<return_code><![CDATA[SUCCESS]]></return_code>');

function notification(fields: Record<string, string>, key = MERCHANT.key): string {
  return buildXml({ ...fields, sign: signFields(fields, key, 'MD5') });
}

function corpus(ctx: ExperimentContext, own: { orderId: string; buyer: string; goodsId: string }, paid: Record<string, string>): Case[] {
  const api = ctx.api.http;
  const owner = ctx.api.bearer(own.buyer);
  const stranger = ctx.api.bearer('bad-stranger');
  const now = Math.floor(Date.now() / 1000);
  const hs256 = (claims: object, secret = SECRETS.jwtSecret) => {
    const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
    return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
  };
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const grabWith = (headers: Record<string, string>, body: string | Buffer = JSON.stringify({ goodsId: own.goodsId })) =>
    api.send('POST', '/seckill/orders', { headers: { 'content-type': 'application/json', ...headers }, body });
  const notify = (body: string | Buffer, contentType = 'text/xml') => api.send('POST', '/pay/wechat/notify', { headers: { 'content-type': contentType }, body });
  const basic = (user: string, pass: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` });
  const genuine = { ...paid };

  return [
    // --- buyer authentication
    { name: 'grab without a token', send: () => grabWith({}), ok: (s) => s === 401 },
    { name: 'grab with alg=none', send: () => grabWith(bearer(`${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: own.buyer, exp: now + 60 })}.`)), ok: (s) => s === 401 },
    { name: 'grab with an expired token', send: () => grabWith(bearer(hs256({ sub: 'bad-expired', iat: now - 7200, exp: now - 3600 }))), ok: (s) => s === 401 },
    { name: 'grab with a token not yet valid', send: () => grabWith(bearer(hs256({ sub: 'bad-nbf', nbf: now + 3600, exp: now + 7200 }))), ok: (s) => s === 401 },
    { name: 'grab with a token signed by another key', send: () => grabWith(bearer(signBuyerToken('another-secret-entirely-0123456789', 'bad-foreign'))), ok: (s) => s === 401 },
    { name: 'grab with a garbage token', send: () => grabWith(bearer('not.a.jwt')), ok: (s) => s === 401 },
    { name: 'grab with a token without sub', send: () => grabWith(bearer(hs256({ exp: now + 60 }))), ok: (s) => s === 401 },
    { name: 'grab with a 10 KB sub', send: () => grabWith(bearer(hs256({ sub: 'x'.repeat(10_000), exp: now + 60 }))), ok: (s) => is4xx(s) },
    { name: 'grab with Basic instead of Bearer', send: () => grabWith(basic('a', 'b')), ok: (s) => s === 401 },
    // --- buyer bodies
    { name: 'grab with malformed JSON', send: () => grabWith(stranger, '{"goodsId":'), ok: (s) => s === 400 },
    { name: 'grab with an empty body', send: () => grabWith(stranger, ''), ok: (s) => s === 400 },
    { name: 'grab with a 2 MB body', send: () => grabWith(stranger, JSON.stringify({ goodsId: own.goodsId, pad: 'x'.repeat(2 * 1024 * 1024) })), ok: (s) => s === 413 || s === 400 },
    { name: 'grab with goodsId as an object', send: () => grabWith(stranger, JSON.stringify({ goodsId: { $gt: 0 } })), ok: (s) => s === 400 },
    { name: 'grab with goodsId as SQL', send: () => grabWith(stranger, JSON.stringify({ goodsId: '1 OR 1=1' })), ok: (s) => s === 400 || s === 404 },
    { name: 'grab with a 30-digit goodsId', send: () => grabWith(stranger, JSON.stringify({ goodsId: '9'.repeat(30) })), ok: (s) => s === 400 || s === 404 },
    { name: 'grab of goods that do not exist', send: () => grabWith(stranger, JSON.stringify({ goodsId: '987654321' })), ok: (s) => s === 404 },
    { name: 'grab as text/plain', send: () => api.send('POST', '/seckill/orders', { headers: { ...stranger, 'content-type': 'text/plain' }, body: JSON.stringify({ goodsId: own.goodsId }) }), ok: (s) => s === 415 },
    { name: 'grab with a __proto__ body', send: () => grabWith(stranger, '{"__proto__":{"goodsId":"1"},"constructor":{"prototype":{"x":1}}}'), ok: (s) => s === 400 },
    // --- other buyers' orders
    { name: "GET another buyer's order", send: () => api.send('GET', `/seckill/orders/${own.orderId}`, { headers: stranger }), ok: (s) => s === 404 },
    { name: "pay another buyer's order", send: () => api.send('POST', `/seckill/orders/${own.orderId}/pay`, { headers: stranger }), ok: (s) => s === 404 },
    { name: "cancel another buyer's order", send: () => api.send('POST', `/seckill/orders/${own.orderId}/cancel`, { headers: stranger }), ok: (s) => s === 404 },
    { name: 'GET an order id with path tricks', send: () => api.send('GET', '/seckill/orders/..%2F..%2Fadmin', { headers: stranger }), ok: (s) => s === 404 || s === 400 },
    { name: 'GET a 5 KB order id', send: () => api.send('GET', `/seckill/orders/${'1'.repeat(5000)}`, { headers: stranger }), ok: (s) => is4xx(s) },
    { name: 'cancel a paid order as its owner', send: () => api.send('POST', `/seckill/orders/${own.orderId}/cancel`, { headers: owner }), ok: (s) => s === 409 },
    { name: 'pay a paid order as its owner', send: () => api.send('POST', `/seckill/orders/${own.orderId}/pay`, { headers: owner }), ok: (s) => s === 409 },
    { name: 'GET goods with a non-numeric id', send: () => api.send('GET', '/seckill/goods/abc'), ok: (s) => s === 400 || s === 404 },
    { name: 'GET goods with a 25-digit id', send: () => api.send('GET', `/seckill/goods/${'9'.repeat(25)}`), ok: (s) => s === 400 || s === 404 },
    // --- admin and Bull Board
    { name: 'create goods without credentials', send: () => api.send('POST', '/admin/seckill/goods', { json: { title: 'x', price: 1, stockCount: 1, startTime: new Date().toISOString(), endTime: new Date(Date.now() + 60_000).toISOString() } }), ok: (s) => s === 401 },
    { name: 'create goods with a wrong password', send: () => api.send('POST', '/admin/seckill/goods', { headers: basic(SECRETS.adminUser, 'wrong'), json: { title: 'x', price: 1, stockCount: 1, startTime: new Date().toISOString(), endTime: new Date(Date.now() + 60_000).toISOString() } }), ok: (s) => s === 401 },
    { name: 'create goods with negative stock', send: () => api.send('POST', '/admin/seckill/goods', { headers: ctx.api.admin(), json: { title: 'x', price: 1, stockCount: -5, startTime: new Date().toISOString(), endTime: new Date(Date.now() + 60_000).toISOString() } }), ok: (s) => s === 400 },
    { name: 'create goods ending before it starts', send: () => api.send('POST', '/admin/seckill/goods', { headers: ctx.api.admin(), json: { title: 'x', price: 1, stockCount: 1, startTime: new Date(Date.now() + 60_000).toISOString(), endTime: new Date().toISOString() } }), ok: (s) => s === 400 },
    { name: 'create goods with a 10 KB title', send: () => api.send('POST', '/admin/seckill/goods', { headers: ctx.api.admin(), json: { title: 'x'.repeat(10_000), price: 1, stockCount: 1, startTime: new Date().toISOString(), endTime: new Date(Date.now() + 60_000).toISOString() } }), ok: (s) => s === 400 },
    { name: 'create goods with a price of 1e30', send: () => api.send('POST', '/admin/seckill/goods', { headers: ctx.api.admin(), json: { title: 'x', price: 1e30, stockCount: 1, startTime: new Date().toISOString(), endTime: new Date(Date.now() + 60_000).toISOString() } }), ok: (s) => s === 400 },
    { name: 'list reviews without credentials', send: () => api.send('GET', '/admin/seckill/reviews'), ok: (s) => s === 401 },
    { name: 'resolve a review without credentials', send: () => api.send('POST', `/admin/seckill/reviews/${own.orderId}/resolve`, { json: { outcome: 'RESTOCK' } }), ok: (s) => s === 401 },
    { name: 'resolve with an unknown outcome', send: () => api.send('POST', `/admin/seckill/reviews/${own.orderId}/resolve`, { headers: ctx.api.admin(), json: { outcome: 'GIVE_AWAY' } }), ok: (s) => s === 400 },
    { name: 'resolve an order without a review', send: () => api.send('POST', `/admin/seckill/reviews/${own.orderId}/resolve`, { headers: ctx.api.admin(), json: { outcome: 'RESTOCK' } }), ok: (s) => s === 404 || s === 409 },
    { name: 'retry a close without credentials', send: () => api.send('POST', `/admin/seckill/reviews/${own.orderId}/retry`), ok: (s) => s === 401 },
    { name: 'Bull Board without credentials', send: () => api.send('GET', '/admin/queues'), ok: (s) => s === 401 },
    { name: 'Bull Board API without credentials', send: () => api.send('GET', '/admin/queues/api/queues'), ok: (s) => s === 401 },
    { name: 'Bull Board clean without credentials', send: () => api.send('PUT', '/admin/queues/api/queues/order-timeout/clean/completed'), ok: (s) => s === 401 || s === 404 },
    { name: 'Bull Board with a wrong password', send: () => api.send('GET', '/admin/queues/api/queues', { headers: basic(SECRETS.adminUser, 'nope') }), ok: (s) => s === 401 },
    // --- WeChat notifications
    { name: 'notify with an empty body', send: () => notify(''), ok: xmlFail },
    { name: 'notify with JSON', send: () => notify(JSON.stringify(genuine), 'application/json'), ok: xmlFail },
    { name: 'notify with broken XML', send: () => notify('<xml><return_code>SUCCESS</return_code>'), ok: xmlFail },
    { name: 'notify with a DOCTYPE and external entity', send: () => notify(`<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><out_trade_no>&x;</out_trade_no></xml>`), ok: xmlFail },
    { name: 'notify with a billion laughs', send: () => notify(`<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><xml><attach>&c;</attach></xml>`), ok: xmlFail },
    { name: 'notify with duplicated tags', send: () => notify(notification(genuine).replace('<out_trade_no>', `<out_trade_no><![CDATA[${own.orderId}]]></out_trade_no><out_trade_no>`)), ok: xmlFail },
    { name: 'notify with nested tags', send: () => notify(`<xml><out_trade_no><inner>${own.orderId}</inner></out_trade_no></xml>`), ok: xmlFail },
    { name: 'notify of 200 KB', send: () => notify(`<xml><attach>${'x'.repeat(200 * 1024)}</attach></xml>`), ok: (s, b) => xmlFail(s, b) || s === 413 },
    { name: 'notify without a signature', send: () => notify(buildXml(genuine)), ok: xmlFail },
    { name: 'notify signed with another key', send: () => notify(notification({ ...genuine, nonce_str: 'forged1' }, 'ffffffffffffffffffffffffffffffff')), ok: xmlFail },
    { name: 'notify with a changed amount, old signature', send: () => notify(buildXml({ ...genuine, sign: signFields(genuine, MERCHANT.key, 'MD5'), total_fee: '1' })), ok: xmlFail },
    { name: 'notify for another merchant', send: () => notify(notification({ ...genuine, mch_id: '99999999' })), ok: xmlFail },
    { name: 'notify with sign_type HMAC but an MD5 signature', send: () => notify(buildXml({ ...genuine, sign_type: 'HMAC-SHA256', sign: signFields(genuine, MERCHANT.key, 'MD5') })), ok: xmlFail },
    { name: 'notify replayed (genuine, already applied)', send: () => notify(notification(genuine)), ok: xmlSuccess },
  ];
}

export const badInput: Experiment = {
  name: 'bad-input',
  title: 'Bad input corpus',
  async run(ctx) {
    const sale = new Sale(ctx, 'bad');
    const goodsId = await sale.addGoods(10);
    const watch = sale.watch();
    // one genuine, paid order to aim at (its notification is what the replay sends again)
    const own = await sale.grab(goodsId);
    if (!own || !(await sale.requestPayment(own.orderId))) throw new Error('could not place the target order');
    const payment = await ctx.sandbox.buyerPays(own.orderId);
    if (!payment.body.transaction_id) throw new Error(`the sandbox did not take the payment: ${JSON.stringify(payment.body)}`);
    const drained = await ctx.judge.drain(sale.goods, 60_000);
    if (drained.left) throw new Error(`the target order did not settle: ${drained.left}`);
    const view = (await ctx.sandbox.http.send<Record<string, string>>('GET', `/sandbox/orders/${own.orderId}`)).body;
    const paid: Record<string, string> = {
      appid: MERCHANT.appid,
      mch_id: MERCHANT.mch_id,
      nonce_str: 'replayed0000000000000000000000',
      result_code: 'SUCCESS',
      return_code: 'SUCCESS',
      openid: String(view.openid ?? ''),
      is_subscribe: 'N',
      trade_type: 'NATIVE',
      bank_type: 'CFT',
      total_fee: String(view.total_fee ?? view.totalFee ?? 100),
      cash_fee: String(view.total_fee ?? view.totalFee ?? 100),
      fee_type: 'CNY',
      transaction_id: payment.body.transaction_id,
      out_trade_no: own.orderId,
      time_end: String(view.time_end ?? view.timeEnd ?? ''),
    };

    const cases = corpus(ctx, { ...own, goodsId }, paid);
    const before = await snapshot(ctx.judge, ctx.cluster.databaseUrl);
    const violations: string[] = [];
    for (const c of cases) {
      const reply = await c.send();
      const shape = typeof reply.body === 'object' && reply.body !== null ? (reply.body as { code?: unknown; message?: unknown }) : undefined;
      if (reply.status === 0) violations.push(`${c.name}: no answer (${reply.error})`);
      else if (reply.status >= 500) violations.push(`${c.name}: ${reply.status} ${JSON.stringify(reply.body).slice(0, 200)}`);
      else if (!c.ok(reply.status, reply.body)) violations.push(`${c.name}: unexpected ${reply.status} ${JSON.stringify(reply.body).slice(0, 200)}`);
      else if (shape && reply.status >= 400 && (typeof shape.code !== 'string' || typeof shape.message !== 'string' || shape.code.startsWith('FST_'))) violations.push(`${c.name}: error body not {code, message} of ours: ${JSON.stringify(reply.body).slice(0, 200)}`);
    }
    // anything the requests set moving (a replay goes through RabbitMQ and a job) has landed by now
    await sleep(2_000);
    await ctx.judge.drain(sale.goods, 30_000);
    const after = await snapshot(ctx.judge, ctx.cluster.databaseUrl);
    for (const d of snapshotDiff(before, after)) violations.push(`state changed: ${d}`);

    return finish(sale, watch, { faults: cases.length, overdueBoundMs: 60_000, figures: { requests: cases.length }, violations });
  },
};
