import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WeChatPayClient } from '../infra/wechat/client.js';
import { verifySignature, type SignType } from '../infra/wechat/sign.js';
import { parseWeChatXml } from '../infra/wechat/xml.js';
import { WECHAT_RETRY_SCHEDULE_MS } from './notifier.js';
import { eventually, startSandbox, TEST_MERCHANT, type RunningSandbox } from './testing.js';

const SUCCESS = '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>';
const FAIL = '<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[busy]]></return_msg></xml>';

type Reaction = { status: number; body: string } | 'hang';

interface Received {
  readonly at: number;
  readonly fields: Record<string, string>;
}

/** A merchant's notify endpoint whose answers the test scripts, one per request received. */
class Receiver {
  readonly received: Received[] = [];
  #server: Server | undefined;
  #react: (index: number) => Reaction = () => ({ status: 200, body: SUCCESS });
  #held: (() => void)[] = [];
  url = '';

  async start(): Promise<void> {
    this.#server = createServer((req, res) => {
      void body(req).then((text) => {
        const index = this.received.length;
        this.received.push({ at: Date.now(), fields: parseWeChatXml(text) });
        const reaction = this.#react(index);
        if (reaction === 'hang') {
          this.#held.push(() => res.destroy());
          return;
        }
        res.writeHead(reaction.status, { 'content-type': 'text/xml' }).end(reaction.body);
      });
    });
    await new Promise<void>((resolve) => this.#server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/pay/wechat/notify`;
  }

  script(react: (index: number) => Reaction): void {
    this.#react = react;
  }

  reset(): void {
    this.received.length = 0;
    this.#held.splice(0).forEach((release) => release());
    this.script(() => ({ status: 200, body: SUCCESS }));
  }

  async stop(): Promise<void> {
    this.reset();
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()));
  }
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

let sandbox: RunningSandbox;
const receiver = new Receiver();
let seq = 0;
const nextNo = () => `00${Date.now()}${String((seq += 1)).padStart(3, '0')}`;

beforeAll(async () => {
  await receiver.start();
  // Scale 0.001: WeChat's 15 s / 15 s / 30 s / 3 min … become 15 / 15 / 30 / 180 ms.
  sandbox = await startSandbox({ timeScale: 0.001, notifyTimeoutMs: 300 });
});
afterEach(async () => {
  await sandbox.reset();
  receiver.reset();
});
afterAll(async () => {
  await sandbox.close();
  await receiver.stop();
});

async function createOrder(signType: SignType = 'MD5', attach?: string): Promise<string> {
  const client = new WeChatPayClient({ baseUrl: sandbox.url, ...TEST_MERCHANT, signType, timeoutMs: 2_000 });
  try {
    const no = nextNo();
    const res = await client.unifiedOrder({ outTradeNo: no, totalFee: 2500, body: 'seckill', productId: 'g1', notifyUrl: receiver.url, attach });
    expect(res.kind).toBe('ok');
    return no;
  } finally {
    await client.close();
  }
}

const notificationStatus = async (no: string) => (await sandbox.order(no)).body.notification;
const settled = (no: string) => eventually(async () => ((await notificationStatus(no)) === 'pending' ? undefined : notificationStatus(no)));

describe('payment notifications', () => {
  it('retries on the WeChat schedule (time-scaled) after a FAIL reply, then stops at SUCCESS', async () => {
    const no = await createOrder('MD5', 'coupon=7');
    receiver.script((i) => ({ status: 200, body: i === 0 ? FAIL : SUCCESS }));
    const paid = await sandbox.pay(no);
    expect(paid.status).toBe(200);

    expect(await settled(no)).toBe('delivered');
    await new Promise((resolve) => setTimeout(resolve, 100)); // nothing more may arrive
    expect(receiver.received).toHaveLength(2);
    const [first, second] = receiver.received as [Received, Received];
    expect(second.at - first.at).toBeGreaterThanOrEqual(WECHAT_RETRY_SCHEDULE_MS[0]! * 0.001 - 2);

    const { notifications } = await sandbox.ledger();
    expect(notifications.map((n) => [n.attempt, n.kind, n.outcome, n.http_status])).toEqual([
      [0, 'first', 'FAIL', 200],
      [1, 'retry', 'SUCCESS', 200],
    ]);

    for (const { fields } of receiver.received) {
      expect(verifySignature(fields, TEST_MERCHANT.apiKey, 'MD5')).toBe(true);
      expect(fields).not.toHaveProperty('sign_type');
      expect(Object.keys(fields).sort()).toEqual(
        ['appid', 'attach', 'bank_type', 'cash_fee', 'fee_type', 'is_subscribe', 'mch_id', 'nonce_str', 'openid', 'out_trade_no', 'result_code', 'return_code', 'sign', 'time_end', 'total_fee', 'trade_type', 'transaction_id'].sort(),
      );
      expect(fields).toMatchObject({
        appid: TEST_MERCHANT.appId,
        mch_id: TEST_MERCHANT.mchId,
        out_trade_no: no,
        transaction_id: paid.body.transaction_id,
        total_fee: '2500',
        cash_fee: '2500',
        attach: 'coupon=7',
        result_code: 'SUCCESS',
        return_code: 'SUCCESS',
        time_end: paid.body.time_end,
      });
    }
    expect(first.fields.nonce_str).not.toBe(second.fields.nonce_str);
  });

  it('signs with HMAC-SHA256 and says so when the order was created that way', async () => {
    const no = await createOrder('HMAC-SHA256');
    await sandbox.pay(no);
    expect(await settled(no)).toBe('delivered');
    const fields = receiver.received[0]?.fields ?? {};
    expect(fields.sign_type).toBe('HMAC-SHA256');
    expect(fields.sign).toHaveLength(64);
    expect(verifySignature(fields, TEST_MERCHANT.apiKey, 'HMAC-SHA256')).toBe(true);
  });

  it('counts HTTP errors, non-XML replies and timeouts as failures', async () => {
    const no = await createOrder();
    const script: Reaction[] = [{ status: 500, body: SUCCESS }, { status: 200, body: 'success' }, 'hang', { status: 200, body: SUCCESS }];
    receiver.script((i) => script[i] ?? { status: 200, body: SUCCESS });
    await sandbox.pay(no);
    expect(await settled(no)).toBe('delivered');
    const { notifications } = await sandbox.ledger();
    expect(notifications.map((n) => n.outcome)).toEqual(['FAIL', 'FAIL', 'ERROR', 'SUCCESS']);
    expect(notifications.map((n) => n.attempt)).toEqual([0, 1, 2, 3]);
  });

  it('sends duplicates after a successful delivery, each freshly signed', async () => {
    const no = await createOrder();
    await sandbox.pay(no, { duplicates: 2 });
    await eventually(() => (receiver.received.length >= 3 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(receiver.received).toHaveLength(3);
    const nonces = new Set(receiver.received.map((r) => r.fields.nonce_str));
    expect(nonces.size).toBe(3);
    expect(new Set(receiver.received.map((r) => r.fields.transaction_id)).size).toBe(1);
    expect((await sandbox.ledger()).notifications.map((n) => n.kind)).toEqual(['first', 'duplicate', 'duplicate']);
  });

  it('sends concurrent copies of one attempt at the same time', async () => {
    const no = await createOrder();
    // No copy is answered (each waits out its 300 ms timeout): three arriving within 250 ms
    // can only be concurrent sends.
    receiver.script(() => 'hang');
    await sandbox.pay(no, { concurrent: 3 });
    await eventually(() => (receiver.received.length >= 3 ? true : undefined), 250);
    const firstThree = receiver.received.slice(0, 3);
    expect(new Set(firstThree.map((r) => r.fields.nonce_str)).size).toBe(3);
    expect(firstThree.every((r) => r.fields.out_trade_no === no)).toBe(true);
  });

  it('re-delivers a paid order on request and refuses unpaid ones', async () => {
    const no = await createOrder();
    expect((await sandbox.notify(no)).status).toBe(409);
    await sandbox.pay(no);
    await settled(no);
    expect((await sandbox.notify(no)).status).toBe(200);
    await eventually(() => (receiver.received.length >= 2 ? true : undefined));
    expect(receiver.received.map((r) => r.fields.out_trade_no)).toEqual([no, no]);
  });

  it('notifies when a payment lands during a close (payDuringClose)', async () => {
    const no = await createOrder();
    await sandbox.faults({ payDuringClose: true });
    const client = new WeChatPayClient({ baseUrl: sandbox.url, ...TEST_MERCHANT, signType: 'MD5', timeoutMs: 2_000 });
    try {
      expect(await client.closeOrder(no)).toMatchObject({ kind: 'error', errCode: 'ORDERPAID' });
    } finally {
      await client.close();
    }
    expect(await settled(no)).toBe('delivered');
    expect(receiver.received[0]?.fields.out_trade_no).toBe(no);
  });
});

describe('notifier lifecycle', () => {
  it('gives up after the last retry of the schedule', async () => {
    const own = await startSandbox({ timeScale: 1, retryScheduleMs: [10, 10] });
    try {
      receiver.script(() => ({ status: 200, body: FAIL }));
      const client = new WeChatPayClient({ baseUrl: own.url, ...TEST_MERCHANT, signType: 'MD5', timeoutMs: 2_000 });
      await client.unifiedOrder({ outTradeNo: '000777000', totalFee: 1, body: 'x', productId: 'p', notifyUrl: receiver.url });
      await client.close();
      await own.pay('000777000');
      await eventually(async () => ((await own.order('000777000')).body.notification === 'gave-up' ? true : undefined));
      expect((await own.ledger()).notifications.map((n) => n.attempt)).toEqual([0, 1, 2]);
      expect(own.app.sandbox.notifier.pending).toBe(0);
    } finally {
      await own.close();
    }
  });

  it('close() clears pending retries: nothing is sent afterwards', async () => {
    const own = await startSandbox({ timeScale: 1, retryScheduleMs: [80, 80, 80] });
    receiver.script(() => ({ status: 200, body: FAIL }));
    const client = new WeChatPayClient({ baseUrl: own.url, ...TEST_MERCHANT, signType: 'MD5', timeoutMs: 2_000 });
    await client.unifiedOrder({ outTradeNo: '000888000', totalFee: 1, body: 'x', productId: 'p', notifyUrl: receiver.url });
    await client.close();
    await own.pay('000888000');
    await eventually(() => (receiver.received.length >= 1 ? true : undefined));
    expect(own.app.sandbox.notifier.pending).toBeGreaterThan(0); // a retry is waiting
    await own.close();
    expect(own.app.sandbox.notifier.pending).toBe(0);
    const seen = receiver.received.length;
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(receiver.received.length).toBe(seen);
  });

  it('reset cancels pending retries too', async () => {
    const own = await startSandbox({ timeScale: 1, retryScheduleMs: [80, 80, 80] });
    try {
      receiver.script(() => ({ status: 200, body: FAIL }));
      const client = new WeChatPayClient({ baseUrl: own.url, ...TEST_MERCHANT, signType: 'MD5', timeoutMs: 2_000 });
      await client.unifiedOrder({ outTradeNo: '000999000', totalFee: 1, body: 'x', productId: 'p', notifyUrl: receiver.url });
      await client.close();
      await own.pay('000999000');
      await eventually(() => (receiver.received.length >= 1 ? true : undefined));
      await own.reset();
      const seen = receiver.received.length;
      await new Promise((resolve) => setTimeout(resolve, 250));
      expect(receiver.received.length).toBe(seen);
      expect((await own.ledger()).notifications).toEqual([]);
    } finally {
      await own.close();
    }
  });
});
