import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.js';
import { type TestContext, createTestContext } from '../helpers/app.js';

/**
 * The API's access log (a line per request and per response) is written at LOG_LEVEL debug and
 * trace only: at info the sold-out crowd would cost two lines per 409 (BENCHMARKS.md).
 * Errors are logged at every level.
 */
let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t?.close();
});

/** The messages an API at `level` logs while answering a grab without a token (401) and a read of an order that does not exist (404). */
async function messagesAt(level: 'info' | 'debug'): Promise<string[]> {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const logger = pino({ level }, sink);
  const app = await buildApp({ infra: { ...t.infra, config: { ...t.infra.config, logLevel: level } }, logger });
  try {
    await app.inject({ method: 'POST', url: '/seckill/orders', payload: { goodsId: '1' } });
    await app.inject({ method: 'GET', url: '/seckill/orders/1', headers: t.buyer('reader') });
  } finally {
    await app.close();
  }
  return lines.map((line) => (JSON.parse(line) as { msg: string }).msg);
}

describe('access log', () => {
  it('is off at info', async () => {
    const messages = await messagesAt('info');
    expect(messages).not.toContain('incoming request');
    expect(messages).not.toContain('request completed');
  });

  it('is on at debug: a line per request and per response', async () => {
    const messages = await messagesAt('debug');
    expect(messages.filter((m) => m === 'incoming request')).toHaveLength(2);
    expect(messages.filter((m) => m === 'request completed')).toHaveLength(2);
  });
});
