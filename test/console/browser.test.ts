import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../src/sandbox/testing.js';
import { type TestSystem, createTestSystem } from '../helpers/system.js';
import { type Goods, createGoods, grab } from '../payments/support.js';
import { available, lateTimeoutCloses, orderInReview } from './support.js';

/**
 * The operator console and Bull Board in a real browser: Debian's Chromium driven by
 * playwright-core (no browser download: only Debian's package is reachable here). .ci/run
 * installs Chromium when it is missing; on a machine without it these tests report themselves
 * skipped with the install command, except in CI, where a missing browser fails them rather
 * than hiding a broken console behind a skip.
 *
 * Screenshots of the console are taken on every run; `UPDATE_SCREENSHOTS=1` (npm run
 * screenshots) writes them to docs/screenshots/ for the README, otherwise to a temporary folder,
 * so a test run does not leave the work tree changed.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const INSTALL = 'apt-get install -y chromium';
const present = existsSync(CHROMIUM);
const skip = !present && !process.env.CI;
if (skip) console.warn(`test/console/browser.test.ts skipped: no Chromium at ${CHROMIUM}. Install it with: ${INSTALL}`);
const SHOTS = process.env.UPDATE_SCREENSHOTS ? join(process.cwd(), 'docs', 'screenshots') : join(tmpdir(), 'seckill-console-screenshots');

describe.skipIf(skip)(present ? 'operator console in Chromium' : `operator console in Chromium (no ${CHROMIUM}: install it with ${INSTALL})`, () => {
  let s: TestSystem;
  let browser: Browser;
  let phone: Goods;
  let earbuds: Goods;
  let operator: BrowserContext;
  let timerOrder: string;

  beforeAll(async () => {
    if (!present) throw new Error(`no Chromium at ${CHROMIUM}: install it with ${INSTALL} (.ci/run does)`);
    // orders wait for their deadline for the whole test: their timers stay pending
    [s, browser] = await Promise.all([
      createTestSystem({ env: { ORDER_TIMEOUT_MS: '600000' } }),
      chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] }),
    ]);
    phone = await createGoods(s, 99_900, 5, 'Phone 16 Pro (flash sale)');
    earbuds = await createGoods(s, 19_900, 20, 'Earbuds (flash sale)');
    // some history for the lateness chart: timeout closes of the earbuds, each a little late
    await lateTimeoutCloses(s, earbuds.id, ['e1', 'e2', 'e3', 'e4']);
    await grab(s, 'e5', earbuds.id);
    operator = await browser.newContext({ httpCredentials: { username: s.config.admin.user, password: s.config.admin.password }, viewport: { width: 1280, height: 900 } });
    mkdirSync(SHOTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await s?.close();
  });

  const figure = (page: Page, goodsId: string, name: string) => page.locator(`article[data-goods-id="${goodsId}"] [data-figure="${name}"]`).textContent({ timeout: 5_000 });
  /** until the page (refreshing itself) shows `want` */
  const figureBecomes = (page: Page, goodsId: string, name: string, want: string) =>
    eventually(async () => ((await figure(page, goodsId, name)) === want ? true : undefined), 10_000, 100).catch(async () => {
      throw new Error(`${name} of goods ${goodsId} stayed ${await figure(page, goodsId, name)}, expected ${want}`);
    });
  const screenshot = async (page: Page, name: string) => {
    const path = join(SHOTS, name);
    await page.screenshot({ path, fullPage: true });
    expect(readFileSync(path).subarray(1, 4).toString()).toBe('PNG');
  };

  it('logs in to /admin and sees a fresh order as a pending close timer, without reloading', async () => {
    const page = await operator.newPage();
    const res = await page.goto(`${s.apiUrl}/admin`);
    expect(res?.status()).toBe(200);
    expect(await figure(page, phone.id, 'available')).toBe('5');

    timerOrder = (await grab(s, 'buyer-timer', phone.id)).orderId;
    // the page fetches its figures again on its own: the order's timer shows up
    const timer = page.locator(`article[data-goods-id="${phone.id}"] li[data-order-id="${timerOrder}"]`);
    await timer.waitFor({ timeout: 10_000 });
    expect(await timer.textContent()).toContain(`timeout-${timerOrder}`);
    await figureBecomes(page, phone.id, 'available', '4');
    expect(await figure(page, phone.id, 'held')).toBe('1');
    expect(await page.locator(`article[data-goods-id="${phone.id}"] svg rect.bar.pending`).count()).toBeGreaterThanOrEqual(1);
    // the earbuds' four late closes are drawn
    expect(await page.locator(`article[data-goods-id="${earbuds.id}"] svg rect.bar.late`).count()).toBe(4);
    expect(await figure(page, earbuds.id, 'closed')).toBe('4');
    await page.close();
  });

  it('resolves a review with a button and sees the unit back; a form on another site cannot', async () => {
    const review = await orderInReview(s, phone.id, 'buyer-review');
    const page = await operator.newPage();
    const before = await available(s, phone.id);
    await page.goto(`${s.apiUrl}/admin`);
    const row = page.locator(`#open-reviews tr[data-order-id="${review.orderId}"]`);
    expect(await row.getAttribute('data-kind')).toBe('CLOSE_FAILED');
    expect(await row.locator('.reason').textContent()).toContain('retries exhausted');
    expect(await figure(page, phone.id, 'available')).toBe(String(before));
    expect(await figure(page, phone.id, 'held-in-review')).toBe('1');
    await screenshot(page, 'console.png');

    // another origin (the sandbox's port) posts the resolve form with the operator's browser
    const attacker = await operator.newPage();
    await attacker.goto(`${s.sandbox.url}/`);
    const action = `${s.apiUrl}/admin/console/reviews/${review.orderId}/resolve`;
    const [forged] = await Promise.all([
      attacker.waitForResponse((r) => r.url() === action && r.status() !== 401, { timeout: 10_000 }),
      attacker.waitForURL(action, { waitUntil: 'load', timeout: 10_000 }),
      // (a script for the page: this file is compiled without the DOM's types)
      attacker.evaluate(`(() => {
        const form = document.createElement('form');
        form.method = 'post';
        form.action = ${JSON.stringify(action)};
        form.innerHTML = '<input name="outcome" value="SOLD">';
        document.body.append(form);
        form.submit();
      })()`),
    ]);
    expect(forged.status()).toBe(403);
    expect(await attacker.locator('#refusal').textContent()).toContain('refused: cross-site request');
    await attacker.close(); // (closing it while its navigation was in flight stalled Chromium for 30 s)
    expect(await s.infra.core.prisma.reviewItem.findFirst({ where: { orderId: review.orderId } })).toMatchObject({ status: 'OPEN' });

    await Promise.all([page.waitForURL(/notice=resolved/, { timeout: 10_000 }), row.locator('button[value="RESTOCK"]').click({ timeout: 10_000 })]);
    expect(await page.locator('#notice').textContent()).toMatch(/resolved as\s+RESTOCK; the order is now\s+CLOSED/);
    expect(await figure(page, phone.id, 'available')).toBe(String(before + 1));
    expect(await figure(page, phone.id, 'held-in-review')).toBe('0');
    const resolved = page.locator(`#resolved-reviews tr[data-order-id="${review.orderId}"]`);
    expect(await resolved.locator('[data-outcome]').textContent()).toBe('RESTOCK');
    expect(await resolved.textContent()).toContain('CLOSED'); // the live order now, before MySQL has it too
    expect(await page.locator(`#open-reviews tr[data-order-id="${review.orderId}"]`).count()).toBe(0);
    expect(await available(s, phone.id)).toBe(before + 1); // the admin API sees the same unit back
    await screenshot(page, 'console-resolved.png');
    await page.close();
  });

  it('logs in to Bull Board and finds the delayed job timeout-<orderId>', async () => {
    const page = await operator.newPage();
    const res = await page.goto(`${s.apiUrl}/admin/queues/queue/order-timeout?status=delayed`);
    expect(res?.status()).toBe(200);
    await page.getByText(`timeout-${timerOrder}`).first().waitFor({ timeout: 15_000 });
    await screenshot(page, 'bull-board-delayed.png');
    await page.close();
  });

  it('refuses a browser without the credentials: 401 with the Basic challenge, nothing shown', async () => {
    const stranger = await browser.newContext();
    const page = await stranger.newPage();
    for (const path of ['/admin', '/admin/console/goods', '/admin/queues']) {
      const url = `${s.apiUrl}${path}`;
      const answer = page.waitForResponse((r) => r.url() === url);
      // a browser with no credentials to offer gives up on the challenge: the navigation fails
      await expect(page.goto(url)).rejects.toThrow(/ERR_INVALID_AUTH_CREDENTIALS/);
      const res = await answer;
      expect(res.status(), path).toBe(401);
      expect(res.headers()['www-authenticate']).toMatch(/^Basic /);
      // the browser keeps no body of a challenge it gave up on: the context's HTTP client reads it
      const body = await (await stranger.request.get(url)).text();
      expect(body).toContain('admin credentials required');
      expect(body).not.toContain('Phone 16 Pro');
    }
    await stranger.close();
  });
});
