import type { AddressInfo } from 'node:net';
import { createSigner } from 'fast-jwt';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestContext, createTestContext } from '../helpers/app.js';

/**
 * Every 4xx in the contract's `{code, message, fields?}` with our own codes: nothing of
 * Fastify's (`FST_ERR_*`), of the JWT library's or of the Basic-auth plugin's reaches a client.
 */
let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => t?.close());

const hour = 3_600_000;
const inject = (options: InjectOptions) => t.app.inject(options);

function expectError(res: LightMyRequestResponse, status: number, code: string): { code: string; message: string; fields?: string[] } {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = res.json();
  expect(Object.keys(body).sort()).toEqual(body.fields ? ['code', 'fields', 'message'] : ['code', 'message']);
  expect(body.code).toBe(code);
  expect(typeof body.message).toBe('string');
  expect(res.body).not.toMatch(/FST_|FAST_JWT/);
  return body;
}

describe('request bodies', () => {
  const grab = (headers: Record<string, string>, payload?: string) =>
    inject({ method: 'POST', url: '/seckill/orders', headers: { ...t.buyer('careful'), ...headers }, ...(payload === undefined ? {} : { payload }) });

  it.each([
    ['no Content-Type', {}],
    ['a form', { 'content-type': 'application/x-www-form-urlencoded' }],
    ['text/plain', { 'content-type': 'text/plain' }],
    ['XML', { 'content-type': 'text/xml' }],
  ])('a body with %s → 415 UNSUPPORTED_MEDIA_TYPE', async (_name, headers) => {
    const body = expectError(await grab(headers, 'goodsId=1'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expect(body.message).toContain('application/json');
  });

  it('an empty JSON body → 400 VALIDATION_ERROR naming each required field', async () => {
    const body = expectError(await grab({ 'content-type': 'application/json' }, ''), 400, 'VALIDATION_ERROR');
    expect(body).toEqual({ code: 'VALIDATION_ERROR', message: 'invalid body: goodsId: required', fields: ['goodsId'] });

    const goods = await inject({ method: 'POST', url: '/admin/seckill/goods', headers: { ...t.admin, 'content-type': 'application/json' }, payload: '' });
    expect(expectError(goods, 400, 'VALIDATION_ERROR').fields).toEqual(['title', 'price', 'stockCount', 'startTime', 'endTime']);
  });

  it('an empty JSON body is fine where the route takes no body', async () => {
    const pay = await inject({ method: 'POST', url: '/seckill/orders/12345/pay', headers: { ...t.buyer('careful'), 'content-type': 'application/json' }, payload: '' });
    expectError(pay, 404, 'ORDER_NOT_FOUND');
  });

  it('a missing field says "required"; a wrong one says what is wrong', async () => {
    const missing = expectError(await grab({ 'content-type': 'application/json' }, '{}'), 400, 'VALIDATION_ERROR');
    expect(missing.message).toBe('invalid body: goodsId: required');
    expect(missing.message).not.toContain('Invalid input');

    const goods = await inject({
      method: 'POST',
      url: '/admin/seckill/goods',
      headers: t.admin,
      payload: { title: 'x', price: 0, startTime: new Date().toISOString(), endTime: new Date(Date.now() + hour).toISOString() },
    });
    const body = expectError(goods, 400, 'VALIDATION_ERROR');
    expect(body.fields).toEqual(['price', 'stockCount']);
    expect(body.message).toMatch(/price: (?!required).+; stockCount: required$/);
  });

  it('invalid JSON → 400 INVALID_JSON; a body over the limit → 413 PAYLOAD_TOO_LARGE', async () => {
    expectError(await grab({ 'content-type': 'application/json' }, '{"goodsId": '), 400, 'INVALID_JSON');
    expectError(await grab({ 'content-type': 'application/json' }, JSON.stringify({ goodsId: '1'.repeat(70_000) })), 413, 'PAYLOAD_TOO_LARGE');
  });

  it('a bad query or path parameter → 400 VALIDATION_ERROR naming it', async () => {
    const query = expectError(await inject({ method: 'GET', url: '/admin/seckill/reviews?status=MAYBE', headers: t.admin }), 400, 'VALIDATION_ERROR');
    expect(query.fields).toEqual(['status']);
    const params = expectError(await inject({ method: 'GET', url: `/seckill/goods/${'9'.repeat(30)}` }), 400, 'VALIDATION_ERROR');
    expect(params.fields).toEqual(['id']);
  });

  it("the router's own refusals (an over-long path parameter, a URL that does not decode) → 400 BAD_REQUEST of ours", async () => {
    const long = expectError(await inject({ method: 'GET', url: `/seckill/orders/${'1'.repeat(5_000)}`, headers: t.buyer('e-long') }), 400, 'BAD_REQUEST');
    expect(long.message).toBe('a path parameter is too long');
    expectError(await inject({ method: 'GET', url: '/seckill/goods/%E0%A4%A' }), 400, 'BAD_REQUEST');
  });

  it('a body over the limit gets its 413 over real HTTP, on a connection that stays usable', async () => {
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const pool = new Pool(`http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`, { connections: 1 });
    let connections = 0;
    t.app.server.on('connection', () => (connections += 1));
    try {
      const big = JSON.stringify({ goodsId: '1', padding: 'x'.repeat(2 * 1024 * 1024) });
      const res = await pool.request({ method: 'POST', path: '/seckill/orders', headers: { ...t.buyer('careful'), 'content-type': 'application/json' }, body: big });
      expect(res.statusCode).toBe(413);
      expect(await res.body.json()).toEqual({ code: 'PAYLOAD_TOO_LARGE', message: 'the request body is too large' });
      const next = await pool.request({ method: 'GET', path: '/health' });
      expect(await next.body.json()).toEqual({ status: 'ok' });
      expect(connections).toBe(1); // the rest of the body was read and discarded, not cut off
    } finally {
      await pool.close();
    }
  });

  it('an unknown route → 404 ROUTE_NOT_FOUND', async () => {
    expectError(await inject({ method: 'DELETE', url: '/seckill/orders' }), 404, 'ROUTE_NOT_FOUND');
  });
});

describe('buyer tokens', () => {
  const sign = (claims: object, algorithm: 'HS256' | 'HS512' = 'HS256', key = t.config.jwtSecret) => createSigner({ key, algorithm })(claims);
  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const nowS = () => Math.floor(Date.now() / 1000);

  it('no token → 401 UNAUTHORIZED saying how to send one, with a Bearer challenge', async () => {
    const res = await inject({ method: 'GET', url: '/seckill/orders/1' });
    expect(expectError(res, 401, 'UNAUTHORIZED').message).toBe('buyer token required: Authorization: Bearer <JWT>');
    expect(res.headers['www-authenticate']).toBe('Bearer realm="seckill"');
  });

  it.each<[string, () => string]>([
    ['garbage', () => 'not-a-jwt'],
    ['expired', () => sign({ sub: 'late', iat: nowS() - 7_200, exp: nowS() - 3_600 })],
    ['alg none', () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'mallory', iat: nowS() })}.`],
    ['another algorithm', () => sign({ sub: 'mallory' }, 'HS512')],
    ['another secret', () => sign({ sub: 'mallory' }, 'HS256', 'another-secret-another-secret!!')],
    ['no sub', () => sign({ name: 'anon' })],
  ])('a %s token → 401 with our one message, not the JWT library\'s', async (_name, token) => {
    const res = await inject({ method: 'POST', url: '/seckill/orders', headers: { authorization: `Bearer ${token()}` }, payload: { goodsId: '1' } });
    expect(expectError(res, 401, 'UNAUTHORIZED').message).toBe('buyer token invalid or expired');
    expect(res.headers['www-authenticate']).toBe('Bearer realm="seckill", error="invalid_token"');
  });

  it('a token accepted once (and remembered) is refused once it expires', async () => {
    const exp = nowS() + 2;
    const authorization = `Bearer ${sign({ sub: 'brief', exp })}`;
    const read = () => inject({ method: 'GET', url: '/seckill/orders/1', headers: { authorization } });
    expect(expectError(await read(), 404, 'ORDER_NOT_FOUND').code).toBe('ORDER_NOT_FOUND'); // accepted
    expect((await read()).statusCode).toBe(404); // accepted again (from memory)
    await new Promise((resolve) => setTimeout(resolve, exp * 1000 - Date.now() + 50));
    expect(expectError(await read(), 401, 'UNAUTHORIZED').message).toBe('buyer token invalid or expired');
  });
});

describe('admin credentials', () => {
  const basic = (text: string) => `Basic ${Buffer.from(text).toString('base64')}`;

  it.each<[string, Record<string, string>]>([
    ['none', {}],
    ['a Bearer token', { authorization: 'Bearer abc' }],
    ['malformed Basic', { authorization: 'Basic %%%' }],
    ['no colon', { authorization: basic('ops') }],
    ['a wrong password', { authorization: basic('ops:nope') }],
    ['a wrong user', { authorization: basic('someone:ops-password') }],
  ])('%s → the same 401 on every admin route, Bull Board included', async (_name, headers) => {
    for (const [method, url] of [['GET', '/admin/seckill/reviews'], ['GET', '/admin/seckill/goods/1'], ['GET', '/admin/queues']] as const) {
      const res = await inject({ method, url, headers });
      expect(expectError(res, 401, 'UNAUTHORIZED').message, url).toBe('admin credentials required: HTTP Basic');
      expect(res.headers['www-authenticate']).toBe('Basic realm="seckill-admin", charset="UTF-8"');
    }
  });
});
