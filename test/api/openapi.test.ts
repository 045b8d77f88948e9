import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestSystem, createTestSystem } from '../helpers/system.js';
import { beijingDate } from '../../src/domain/reconciliation/bill-date.js';
import { notificationXml, transactionId, waitForStatus } from '../payments/support.js';

/**
 * The published OpenAPI document (/docs/json) against the API's real answers: every route is
 * called for real, for its success and for each error status this file can provoke, and every
 * answer must be documented for its route and status, in its content type, and valid against
 * the documented schema (error `code`s included: each status lists the codes it may carry).
 * At the end, every documented status must have been met, except those listed in NOT_PROVOKED.
 */

// ajv-formats is CommonJS: its default export arrives as the module object under NodeNext
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

/** Documented statuses this file does not provoke, and why (or where they are tested). */
const NOT_PROVOKED: [RegExp, string][] = [
  [/ 500$/, 'a bug'],
  [/^(?!GET \/ready |POST \/seckill\/orders\/\{orderId\}\/pay ).* 503$/, 'a backing service down: test/outbox/mysql-outage.test.ts, test/payments/broker-outage.test.ts'],
];

interface Operation {
  responses: Record<string, { description: string; content?: Record<string, { schema: object }> }>;
}
interface OpenApi {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, object> };
}

/** Untyped JSON, as `res.json()` gives every test (the schema check is what types it here). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

let s: TestSystem;
let doc: OpenApi;
const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats(ajv);
const validators = new WeakMap<object, ValidateFunction>();
const seen = new Set<string>();
const hour = 3_600_000;

beforeAll(async () => {
  // no order times out during the test: closes come from cancels (the review test makes them fail)
  s = await createTestSystem({ env: { ORDER_TIMEOUT_MS: '120000' } });
  const res = await s.app.inject({ method: 'GET', url: '/docs/json' });
  expect(res.statusCode).toBe(200);
  doc = res.json();
});
afterAll(async () => s?.close());

/** The documented schema, with `#/components/schemas/X` refs pointing into its own `$defs`. */
function validatorFor(schema: object): ValidateFunction {
  let validate = validators.get(schema);
  if (!validate) {
    const local = (value: object) => JSON.parse(JSON.stringify(value).replaceAll('"#/components/schemas/', '"#/$defs/')) as object;
    validate = ajv.compile({ ...local(schema), $defs: local(doc.components.schemas) });
    validators.set(schema, validate);
  }
  return validate;
}

/** `route` as the document names it ("POST /seckill/orders/{orderId}/pay"); returns the body. */
function check(route: string, res: LightMyRequestResponse): Json {
  const [method = '', path = ''] = route.split(' ');
  const operation = doc.paths[path]?.[method.toLowerCase()];
  expect(operation, `${route} is documented`).toBeDefined();
  const documented = operation!.responses[String(res.statusCode)];
  expect(documented, `${route} → ${res.statusCode} is documented (${res.body.slice(0, 300)})`).toBeDefined();
  const mediaType = String(res.headers['content-type']).split(';')[0]!;
  const media = documented!.content?.[mediaType];
  expect(media, `${route} → ${res.statusCode} documents ${mediaType}`).toBeDefined();
  const body: unknown = mediaType === 'application/json' ? res.json() : res.body;
  const validate = validatorFor(media!.schema);
  expect(validate(body), `${route} → ${res.statusCode}: ${ajv.errorsText(validate.errors)}\n${res.body.slice(0, 500)}`).toBe(true);
  seen.add(`${route} ${res.statusCode}`);
  return body;
}

async function call(route: string, options: Omit<InjectOptions, 'method'> & { url: string }, status: number): Promise<Json> {
  const method = route.split(' ')[0] as 'GET' | 'POST';
  const res = await s.app.inject({ method, ...options });
  expect(res.statusCode, `${route} (${options.url}): ${res.body.slice(0, 300)}`).toBe(status);
  return check(route, res);
}

const json = (payload: string) => ({ 'content-type': 'application/json', payload });
const tooLarge = JSON.stringify({ padding: 'x'.repeat(70 * 1024) });
const newGoods = (over: Record<string, unknown> = {}) => ({
  title: 'OpenAPI phone',
  price: 4_999,
  stockCount: 20,
  startTime: new Date(Date.now() - hour).toISOString(),
  endTime: new Date(Date.now() + hour).toISOString(),
  ...over,
});

/** A POST route's body errors: bad JSON, a body over the limit, a body that is not JSON. */
async function bodyErrors(route: string, url: string, headers: Record<string, string>) {
  const malformed = await call(route, { url, headers: { ...headers, 'content-type': 'application/json' }, payload: '{"a": ' }, 400);
  expect(malformed.code).toBe('INVALID_JSON');
  await call(route, { url, headers: { ...headers, 'content-type': 'application/json' }, payload: tooLarge }, 413);
  await call(route, { url, headers: { ...headers, 'content-type': 'text/plain' }, payload: 'hello' }, 415);
}

async function createGoods(over: Record<string, unknown> = {}): Promise<{ id: string; price: number }> {
  return call('POST /admin/seckill/goods', { url: '/admin/seckill/goods', headers: s.admin, payload: newGoods(over) }, 201);
}

async function grab(buyer: string, goodsId: string): Promise<{ orderId: string; money: number }> {
  return call('POST /seckill/orders', { url: '/seckill/orders', headers: s.buyer(buyer), payload: { goodsId } }, 201);
}

const notify = (xml: string, status = 200) =>
  call('POST /pay/wechat/notify', { url: '/pay/wechat/notify', headers: { 'content-type': 'text/xml' }, payload: xml }, status);

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 with shared schemas and every route', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['Goods', 'Order', 'Payment', 'Closing', 'Review', 'ResolvedReview', 'Error']));
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        expect(Object.keys(operation.responses), `${method} ${path}`).not.toContain('default');
        for (const [status, response] of Object.entries(operation.responses)) {
          expect(response.description, `${method} ${path} ${status}`).not.toBe('Default Response');
          expect(response.content, `${method} ${path} ${status}`).toBeDefined();
        }
      }
    }
  });

  it('ops: health, readiness (ready and not), metrics', async () => {
    await call('GET /health', { url: '/health' }, 200);
    // each check has 2 s: on a saturated machine MySQL may miss one; every answer is checked anyway
    const deadline = Date.now() + 20_000;
    while (check('GET /ready', await s.app.inject({ method: 'GET', url: '/ready' })).status !== 'ready') {
      if (Date.now() > deadline) throw new Error('never ready');
    }
    const failing = { name: 'probe', check: () => Promise.reject(new Error('switched off by the test')) };
    s.infra.readinessChecks.push(failing);
    try {
      const body = await call('GET /ready', { url: '/ready' }, 503);
      expect(body.checks.probe).toBe('down: switched off by the test');
    } finally {
      s.infra.readinessChecks.splice(s.infra.readinessChecks.indexOf(failing), 1);
    }
    await call('GET /metrics', { url: '/metrics' }, 200);
  });

  it('goods', async () => {
    const goods = await createGoods({ costPrice: 3_000 });
    await call('POST /admin/seckill/goods', { url: '/admin/seckill/goods', headers: s.admin, payload: newGoods({ price: 0 }) }, 400);
    await call('POST /admin/seckill/goods', { url: '/admin/seckill/goods', payload: newGoods() }, 401);
    await bodyErrors('POST /admin/seckill/goods', '/admin/seckill/goods', s.admin);

    await call('GET /admin/seckill/goods/{id}', { url: `/admin/seckill/goods/${goods.id}`, headers: s.admin }, 200);
    await call('GET /admin/seckill/goods/{id}', { url: `/admin/seckill/goods/${'1'.repeat(30)}`, headers: s.admin }, 400);
    await call('GET /admin/seckill/goods/{id}', { url: `/admin/seckill/goods/${goods.id}` }, 401);
    await call('GET /admin/seckill/goods/{id}', { url: '/admin/seckill/goods/987654321', headers: s.admin }, 404);

    const list = await call('GET /seckill/goods', { url: '/seckill/goods' }, 200);
    expect(list.map((g: { id: string }) => g.id)).toContain(goods.id);
    await call('GET /seckill/goods/{id}', { url: `/seckill/goods/${goods.id}` }, 200);
    await call('GET /seckill/goods/{id}', { url: `/seckill/goods/${'1'.repeat(30)}` }, 400);
    expect((await call('GET /seckill/goods/{id}', { url: `/seckill/goods/${'1'.repeat(5_000)}` }, 400)).code).toBe('BAD_REQUEST');
    expect((await call('GET /seckill/goods/{id}', { url: '/seckill/goods/%E0%A4%A' }, 400)).code).toBe('BAD_REQUEST');
    await call('GET /seckill/goods/{id}', { url: '/seckill/goods/987654321' }, 404);
  });

  it('grabbing and reading orders', async () => {
    const goods = await createGoods({ stockCount: 1 });
    const order = await grab('o-first', goods.id);
    const route = 'POST /seckill/orders';
    const refused = async (buyer: string, goodsId: string, status: number) =>
      (await call(route, { url: '/seckill/orders', headers: s.buyer(buyer), payload: { goodsId } }, status)).code;
    expect(await refused('o-first', goods.id, 409)).toBe('REPEAT_ORDER');
    expect(await refused('o-second', goods.id, 409)).toBe('SOLD_OUT');
    const later = await createGoods({ startTime: new Date(Date.now() + hour).toISOString(), endTime: new Date(Date.now() + 2 * hour).toISOString() });
    expect(await refused('o-early', later.id, 409)).toBe('NOT_ON_SALE');
    expect(await refused('o-lost', '987654321', 404)).toBe('GOODS_NOT_FOUND');
    await call(route, { url: '/seckill/orders', headers: s.buyer('o-empty'), ...json('') }, 400);
    await call(route, { url: '/seckill/orders', payload: { goodsId: goods.id } }, 401);
    await bodyErrors(route, '/seckill/orders', s.buyer('o-sloppy'));

    const read = 'GET /seckill/orders/{orderId}';
    expect((await call(read, { url: `/seckill/orders/${order.orderId}`, headers: s.buyer('o-first') }, 200)).status).toBe('UNPAID');
    await call(read, { url: `/seckill/orders/${'1'.repeat(40)}`, headers: s.buyer('o-first') }, 400);
    await call(read, { url: `/seckill/orders/${order.orderId}`, headers: { authorization: 'Bearer not-a-token' } }, 401);
    await call(read, { url: `/seckill/orders/${order.orderId}`, headers: s.buyer('someone-else') }, 404);
  });

  it('paying: the QR code, refusals, WeChat failing or unavailable', async () => {
    const goods = await createGoods();
    const route = 'POST /seckill/orders/{orderId}/pay';
    const payUrl = (orderId: string) => `/seckill/orders/${orderId}/pay`;
    const order = await grab('p-buyer', goods.id);
    await call(route, { url: payUrl(order.orderId), headers: s.buyer('p-buyer') }, 200);
    await call(route, { url: payUrl('1'.repeat(40)), headers: s.buyer('p-buyer') }, 400);
    await call(route, { url: payUrl(order.orderId) }, 401);
    await call(route, { url: payUrl(order.orderId), headers: s.buyer('p-other') }, 404);
    await bodyErrors(route, payUrl(order.orderId), s.buyer('p-buyer'));

    try {
      await s.sandbox.faults({ systemErrorRate: { unifiedorder: 1 } });
      const busy = await grab('p-busy', goods.id);
      expect((await call(route, { url: payUrl(busy.orderId), headers: s.buyer('p-busy') }, 503)).code).toBe('PAYMENT_PROVIDER_UNAVAILABLE');
      await s.sandbox.faults({ systemErrorRate: { unifiedorder: 0 }, tamper: { unifiedorder: 'bad-signature' } });
      const forged = await grab('p-forged', goods.id);
      expect((await call(route, { url: payUrl(forged.orderId), headers: s.buyer('p-forged') }, 502)).code).toBe('PAYMENT_PROVIDER_ERROR');
    } finally {
      await s.sandbox.faults({ systemErrorRate: { unifiedorder: 0 }, tamper: { unifiedorder: 'none' } });
    }

    // WeChat's notification: the order is paid, and reads so
    await call(route, { url: payUrl(order.orderId), headers: s.buyer('p-buyer') }, 200);
    await notify(notificationXml({ outTradeNo: order.orderId, totalFee: order.money, transactionId: transactionId() }));
    await waitForStatus(s, 'p-buyer', order.orderId, 'PAID');
    const paid = await call('GET /seckill/orders/{orderId}', { url: `/seckill/orders/${order.orderId}`, headers: s.buyer('p-buyer') }, 200);
    expect(paid.payTime).toBeDefined();
    expect((await call(route, { url: payUrl(order.orderId), headers: s.buyer('p-buyer') }, 409)).code).toBe('ORDER_NOT_PAYABLE');

    await notify('<xml><return_code>SUCCESS', 400);
    await notify(`<xml><pad>${'x'.repeat(70 * 1024)}</pad></xml>`, 413);
  });

  it('cancelling', async () => {
    const goods = await createGoods();
    const route = 'POST /seckill/orders/{orderId}/cancel';
    const cancelUrl = (orderId: string) => `/seckill/orders/${orderId}/cancel`;
    const order = await grab('c-buyer', goods.id);
    expect(await call(route, { url: cancelUrl(order.orderId), headers: s.buyer('c-buyer') }, 202)).toEqual({ orderId: order.orderId, status: 'CLOSING' });
    await call(route, { url: cancelUrl('1'.repeat(40)), headers: s.buyer('c-buyer') }, 400);
    await call(route, { url: cancelUrl(order.orderId) }, 401);
    await call(route, { url: cancelUrl(order.orderId), headers: s.buyer('c-other') }, 404);
    await bodyErrors(route, cancelUrl(order.orderId), s.buyer('c-buyer'));
    await waitForStatus(s, 'c-buyer', order.orderId, 'CLOSED');
    const closed = await call('GET /seckill/orders/{orderId}', { url: `/seckill/orders/${order.orderId}`, headers: s.buyer('c-buyer') }, 200);
    expect(closed.closeReason).toBe('USER_CANCEL');
    expect((await call(route, { url: cancelUrl(order.orderId), headers: s.buyer('c-buyer') }, 409)).code).toBe('ORDER_NOT_CANCELLABLE');
  });

  it('reviews: listing, retrying, resolving', async () => {
    const goods = await createGoods();
    // a wrong amount: recorded for review (AMOUNT_MISMATCH), which a retry cannot help
    const mismatch = await grab('r-mismatch', goods.id);
    await call('POST /seckill/orders/{orderId}/pay', { url: `/seckill/orders/${mismatch.orderId}/pay`, headers: s.buyer('r-mismatch') }, 200);
    await notify(notificationXml({ outTradeNo: mismatch.orderId, totalFee: mismatch.money + 1, transactionId: transactionId() }));
    // cancels whose close fails at WeChat: CLOSE_FAILED reviews
    await s.sandbox.faults({ systemErrorRate: { closeorder: 1 } });
    const [toRetry, toResolve] = [await grab('r-retry', goods.id), await grab('r-resolve', goods.id)];
    for (const [buyer, order] of [['r-retry', toRetry], ['r-resolve', toResolve]] as const) {
      await call('POST /seckill/orders/{orderId}/cancel', { url: `/seckill/orders/${order.orderId}/cancel`, headers: s.buyer(buyer) }, 202);
    }
    await waitForStatus(s, 'r-retry', toRetry.orderId, 'NEEDS_REVIEW', 20_000);
    await waitForStatus(s, 'r-resolve', toResolve.orderId, 'NEEDS_REVIEW', 20_000);
    await s.sandbox.faults({ systemErrorRate: { closeorder: 0 } });

    const list = 'GET /admin/seckill/reviews';
    await eventuallyListed(toResolve.orderId);
    await call(list, { url: '/admin/seckill/reviews?status=MAYBE', headers: s.admin }, 400);
    await call(list, { url: '/admin/seckill/reviews' }, 401);

    const retry = 'POST /admin/seckill/reviews/{orderId}/retry';
    const retryUrl = (orderId: string) => `/admin/seckill/reviews/${orderId}/retry`;
    await call(retry, { url: retryUrl(toRetry.orderId), headers: s.admin }, 202);
    expect((await call(retry, { url: retryUrl(mismatch.orderId), headers: s.admin }, 409)).code).toBe('REVIEW_NOT_RETRYABLE');
    await call(retry, { url: retryUrl('987654321'), headers: s.admin }, 404);
    await call(retry, { url: retryUrl('1'.repeat(40)), headers: s.admin }, 400);
    await call(retry, { url: retryUrl(toRetry.orderId) }, 401);
    await bodyErrors(retry, retryUrl(toRetry.orderId), s.admin);

    const resolve = 'POST /admin/seckill/reviews/{orderId}/resolve';
    const resolveUrl = (orderId: string) => `/admin/seckill/reviews/${orderId}/resolve`;
    await call(resolve, { url: resolveUrl(toResolve.orderId), headers: s.admin, payload: { outcome: 'MAYBE' } }, 400);
    await call(resolve, { url: resolveUrl(toResolve.orderId), payload: { outcome: 'RESTOCK' } }, 401);
    await call(resolve, { url: resolveUrl('987654321'), headers: s.admin, payload: { outcome: 'RESTOCK' } }, 404);
    await bodyErrors(resolve, resolveUrl(toResolve.orderId), s.admin);
    await call(resolve, { url: resolveUrl(toResolve.orderId), headers: s.admin, payload: { outcome: 'RESTOCK' } }, 200);
    expect((await call(resolve, { url: resolveUrl(toResolve.orderId), headers: s.admin, payload: { outcome: 'RESTOCK' } }, 409)).code).toBe('REVIEW_ALREADY_RESOLVED');

    await eventuallyListed(toResolve.orderId, 'RESOLVED');
  });

  it('reconciliations: a run requested, its report, bad days, unknown days', async () => {
    const day = (daysBack: number) => beijingDate(new Date(Date.now() - daysBack * 86_400_000));
    const get = 'GET /admin/seckill/reconciliations/{billDate}';
    const run = 'POST /admin/seckill/reconciliations/{billDate}/run';
    const runUrl = (date: string) => `/admin/seckill/reconciliations/${date}/run`;
    expect((await call(get, { url: `/admin/seckill/reconciliations/${day(5)}`, headers: s.admin }, 404)).code).toBe('RECONCILIATION_NOT_FOUND');
    expect((await call(get, { url: `/admin/seckill/reconciliations/${day(-1)}`, headers: s.admin }, 400)).code).toBe('VALIDATION_ERROR');
    await call(get, { url: `/admin/seckill/reconciliations/${day(5)}` }, 401);
    await call(get, { url: '/admin/seckill/reconciliations/%E0%A4%A', headers: s.admin }, 400);
    expect((await call(run, { url: runUrl(day(5)), headers: s.admin }, 202)).billDate).toBe(day(5));
    expect((await call(run, { url: runUrl(day(200)), headers: s.admin }, 400)).message).toMatch(/three months/);
    await call(run, { url: runUrl(day(5)) }, 401);
    await bodyErrors(run, runUrl(day(5)), s.admin);
    // the worker runs it: a day without transactions ("No Bill Exist") reconciles to zeros
    const deadline = Date.now() + 10_000;
    for (;;) {
      const res = await s.app.inject({ method: 'GET', url: `/admin/seckill/reconciliations/${day(5)}`, headers: s.admin });
      if (res.statusCode === 200 && res.json<{ status: string }>().status === 'SUCCEEDED') {
        expect(check(get, res)).toMatchObject({ bill: { payments: { count: 0, fee: 0 } }, differences: [] });
        break;
      }
      if (Date.now() > deadline) throw new Error(`reconciliation of ${day(5)} never succeeded: ${res.body}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  it('every documented status was met, but for those this file does not provoke', () => {
    const documented = Object.entries(doc.paths).flatMap(([path, operations]) =>
      Object.entries(operations).flatMap(([method, operation]) => Object.keys(operation.responses).map((status) => `${method.toUpperCase()} ${path} ${status}`)),
    );
    const missing = documented.filter((entry) => !seen.has(entry) && !NOT_PROVOKED.some(([pattern]) => pattern.test(entry)));
    expect(missing).toEqual([]);
  });
});

/** The review list (validated on every read) shows the order, once MySQL has it. */
async function eventuallyListed(orderId: string, status: 'OPEN' | 'RESOLVED' = 'OPEN'): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const items: { orderId: string }[] = await call('GET /admin/seckill/reviews', { url: `/admin/seckill/reviews?status=${status}`, headers: s.admin }, 200);
    if (items.some((item) => item.orderId === orderId)) return;
    if (Date.now() > deadline) throw new Error(`review of ${orderId} never listed as ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
