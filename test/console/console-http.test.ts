import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CsrfGuard, TOKEN_TTL_MS } from '../../src/api/console/csrf.js';
import { type TestSystem, createTestSystem } from '../helpers/system.js';
import { type Goods, createGoods, grab, waitForStatus } from '../payments/support.js';
import { outboxDrained } from '../worker/support.js';
import { available, figure, formToken, orderInReview } from './support.js';

/**
 * The operator console over HTTP (no browser: test/console/browser.test.ts drives Chromium):
 * who may see it, what a form may change and what it may not, and that its actions are the
 * admin API's domain functions (same effects on Redis and MySQL).
 */
describe('operator console (HTTP)', () => {
  let s: TestSystem;
  let goods: Goods;
  const form = 'application/x-www-form-urlencoded';

  beforeAll(async () => {
    // no order times out during the test: closes come from cancels
    s = await createTestSystem({ env: { ORDER_TIMEOUT_MS: '120000' } });
    goods = await createGoods(s, 990, 10, 'Console phone');
  });
  afterAll(async () => s?.close());

  const page = async (url = '/admin') => {
    const res = await s.app.inject({ method: 'GET', url, headers: s.admin });
    expect(res.statusCode, res.body.slice(0, 500)).toBe(200);
    return res.body;
  };
  const post = (url: string, payload: string, headers: Record<string, string> = {}) =>
    s.app.inject({ method: 'POST', url, headers: { ...s.admin, 'content-type': form, ...headers }, payload });
  const openReview = (orderId: string) => s.infra.core.prisma.reviewItem.findFirst({ where: { orderId } });

  it('refuses every console route without the admin credentials: 401 with a Basic challenge', async () => {
    const wrong = { authorization: `Basic ${Buffer.from(`${s.config.admin.user}:nope`).toString('base64')}` };
    for (const [method, url] of [
      ['GET', '/admin'],
      ['GET', '/admin/console/goods'],
      ['GET', '/admin/console/reviews'],
      ['GET', '/admin/console/assets/console.js'],
      ['POST', '/admin/console/reviews/1/resolve'],
      ['POST', '/admin/console/reviews/1/retry'],
    ] as const) {
      for (const headers of [{}, wrong]) {
        const res = await s.app.inject({ method, url, headers: { ...headers, 'content-type': form }, payload: method === 'POST' ? 'outcome=RESTOCK' : undefined });
        expect(res.statusCode, `${method} ${url}`).toBe(401);
        expect(res.headers['www-authenticate']).toMatch(/^Basic realm=/);
        expect(res.headers['content-type']).toMatch(/^text\/html/);
        expect(res.body).not.toContain('Console phone');
      }
    }
  });

  it('shows each goods with live figures, a fresh order as its pending timer, and links to Bull Board, /docs and metrics', async () => {
    const order = await grab(s, 'c-timer', goods.id);
    const res = await s.app.inject({ method: 'GET', url: '/admin', headers: s.admin });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(res.headers['cache-control']).toBe('no-store');
    const html = res.body;
    expect(html).toContain('Console phone');
    expect(figure(html, goods.id, 'available')).toBe(9);
    expect(figure(html, goods.id, 'held')).toBe(1);
    expect(figure(html, goods.id, 'stock-count')).toBe(10);
    expect(html).toContain(`<code>timeout-${order.orderId}</code>`);
    expect(html).toMatch(/<svg class="chart"[^>]*aria-label="pending close timers by due minute"[\s\S]*?<rect class="bar pending"/);
    for (const href of ['/admin/queues', '/docs', '/metrics']) expect(html).toContain(`href="${href}"`);
    // the live sections refresh from fragments of the same figures
    expect(figure(await page('/admin/console/goods'), goods.id, 'held')).toBe(1);
  });

  it('resolves a review through the form with the domain function of the API: the unit is back on sale', async () => {
    const order = await orderInReview(s, goods.id, 'c-resolve');
    const before = await available(s, goods.id);
    const html = await page();
    expect(html).toMatch(new RegExp(`<tr data-order-id="${order.orderId}" data-kind="CLOSE_FAILED">[\\s\\S]*?retries exhausted`));

    const res = await post(`/admin/console/reviews/${order.orderId}/resolve`, `csrf=${formToken(html)}&outcome=RESTOCK`, { 'sec-fetch-site': 'same-origin', origin: 'http://localhost:80' });
    expect(res.statusCode, res.body.slice(0, 500)).toBe(303);
    expect(res.headers.location).toBe(`/admin?notice=resolved&order=${order.orderId}&outcome=RESTOCK&status=CLOSED#reviews`);
    expect(await available(s, goods.id)).toBe(before + 1);
    expect(await openReview(order.orderId)).toMatchObject({ status: 'RESOLVED', outcome: 'RESTOCK' });

    const after = await page(String(res.headers.location).replace('#reviews', ''));
    expect(after).toMatch(/id="notice"[\s\S]*resolved as <strong>RESTOCK<\/strong>; the order is now <strong>CLOSED<\/strong>/);
    expect(after).toMatch(new RegExp(`id="resolved-reviews"[\\s\\S]*<tr data-order-id="${order.orderId}">[\\s\\S]*?RESTOCK`));
    expect(after).not.toMatch(new RegExp(`<tr data-order-id="${order.orderId}" data-kind`));
  });

  it('refuses forms from elsewhere (no or a forged or an expired token, another site, another origin): 403, nothing changed', async () => {
    const order = await orderInReview(s, goods.id, 'c-csrf');
    const before = await available(s, goods.id);
    const token = formToken(await page());
    const url = `/admin/console/reviews/${order.orderId}/resolve`;
    const attempts: [string, Record<string, string>][] = [
      ['outcome=RESTOCK', {}],
      ['csrf=&outcome=RESTOCK', {}],
      [`csrf=${token.slice(0, -2)}xx&outcome=RESTOCK`, {}],
      [`csrf=${new CsrfGuard({ user: 'someone', password: 'else' }).issue()}&outcome=RESTOCK`, {}],
      [`csrf=${new CsrfGuard(s.config.admin).issue(Date.now() - TOKEN_TTL_MS - 1_000)}&outcome=RESTOCK`, {}],
      [`csrf=${token}&outcome=RESTOCK`, { 'sec-fetch-site': 'cross-site' }],
      [`csrf=${token}&outcome=RESTOCK`, { 'sec-fetch-site': 'same-site' }],
      [`csrf=${token}&outcome=RESTOCK`, { origin: 'https://evil.example' }],
    ];
    for (const [payload, headers] of attempts) {
      const res = await post(url, payload, headers);
      expect(res.statusCode, `${payload} ${JSON.stringify(headers)}`).toBe(403);
      expect(res.body).toContain('refused');
    }
    // a JSON body is no way around the token either
    const json = await s.app.inject({ method: 'POST', url, headers: { ...s.admin, 'content-type': 'application/json' }, payload: { outcome: 'RESTOCK' } });
    expect(json.statusCode).toBe(403);
    expect(await available(s, goods.id)).toBe(before);
    expect(await openReview(order.orderId)).toMatchObject({ status: 'OPEN', outcome: null });

    // the same form from the console itself goes through
    expect((await post(url, `csrf=${token}&outcome=REFUNDED`, { 'sec-fetch-site': 'same-origin' })).statusCode).toBe(303);
    expect(await available(s, goods.id)).toBe(before + 1);
  });

  it('bad input gets a clear error on the page and changes nothing', async () => {
    const order = await orderInReview(s, goods.id, 'c-bad');
    const before = await available(s, goods.id);
    const token = formToken(await page());
    const resolve = (orderId: string, outcome: string) => post(`/admin/console/reviews/${orderId}/resolve`, `csrf=${token}&outcome=${outcome}`);

    const bad = await resolve(order.orderId, 'MAYBE');
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toMatch(/id="error"[\s\S]*Invalid input:[\s\S]*outcome[\s\S]*Nothing was changed/);
    const unknown = await resolve('1234567890123456789', 'RESTOCK');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.body).toContain('no open review for order 1234567890123456789');
    const unpaid = await grab(s, 'c-unpaid', goods.id); // no review: nothing for a person to settle
    expect((await resolve(unpaid.orderId, 'SOLD')).statusCode).toBe(404);
    expect((await post(`/admin/console/reviews/${order.orderId}/retry`, 'csrf=x', {})).statusCode).toBe(403);
    expect(await available(s, goods.id)).toBe(before - 1); // only the grab above took a unit
    expect(await openReview(order.orderId)).toMatchObject({ status: 'OPEN' });

    expect((await resolve(order.orderId, 'SOLD')).statusCode).toBe(303);
    const twice = await resolve(order.orderId, 'RESTOCK');
    expect(twice.statusCode).toBe(409);
    expect(twice.body).toMatch(/already resolved[\s\S]*Nothing was changed/);
    expect(await openReview(order.orderId)).toMatchObject({ status: 'RESOLVED', outcome: 'SOLD' });
  });

  it('retries a failed close through the form: the order closes and its unit is back', async () => {
    const order = await orderInReview(s, goods.id, 'c-retry');
    const before = await available(s, goods.id);
    const res = await post(`/admin/console/reviews/${order.orderId}/retry`, `csrf=${formToken(await page())}`);
    expect(res.statusCode, res.body.slice(0, 500)).toBe(303);
    expect(res.headers.location).toBe(`/admin?notice=retried&order=${order.orderId}#reviews`);
    await waitForStatus(s, 'c-retry', order.orderId, 'CLOSED', 10_000);
    await outboxDrained(s, goods.id);
    expect(await available(s, goods.id)).toBe(before + 1);
  });

  it('keeps its HTML routes out of the OpenAPI document', async () => {
    const doc = (await s.app.inject({ method: 'GET', url: '/docs/json' })).json<{ paths: Record<string, unknown> }>();
    const paths = Object.keys(doc.paths);
    expect(paths).toContain('/admin/seckill/reviews/{orderId}/resolve');
    expect(paths.filter((p) => p === '/admin' || p.startsWith('/admin/console'))).toEqual([]);
  });
});
