import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_MERCHANT } from '../../sandbox/testing.js';
import { WeChatPayClient } from './client.js';
import { signFields } from './sign.js';
import { buildXml } from './xml.js';

/**
 * Refunds need the merchant's API client certificate: mutual TLS with a PKCS#12 file whose
 * password is the mch_id (WeChat's convention). An HTTPS server that demands a client certificate
 * from our own test CA stands in for api.mch.weixin.qq.com; certificates made with openssl.
 */
describe('refund over mutual TLS with a PKCS#12 merchant certificate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'seckill-cert-'));
  const file = (name: string) => join(dir, name);
  let server: Server;
  let url: string;
  let seenClient = '';

  beforeAll(async () => {
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    writeFileSync(file('server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=test-ca');
    for (const [name, cn] of [['server', 'localhost'], ['client', TEST_MERCHANT.mchId]] as const) {
      ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
      ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', ...(name === 'server' ? ['-extfile', 'server.ext'] : []));
    }
    ssl('pkcs12', '-export', '-inkey', 'client.key', '-in', 'client.crt', '-out', 'apiclient_cert.p12', '-passout', `pass:${TEST_MERCHANT.mchId}`);

    server = createServer(
      { key: readFileSync(file('server.key')), cert: readFileSync(file('server.crt')), ca: readFileSync(file('ca.crt')), requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        seenClient = String((req.socket as import('node:tls').TLSSocket).getPeerCertificate().subject?.CN ?? '');
        req.resume();
        req.on('end', () => {
          const fields: Record<string, string> = {
            return_code: 'SUCCESS', appid: TEST_MERCHANT.appId, mch_id: TEST_MERCHANT.mchId, nonce_str: 'n0nce', result_code: 'SUCCESS',
            out_trade_no: '000000refund', out_refund_no: 'RF000000refund', refund_id: '50000000000000000000000000009', refund_fee: '100', total_fee: '100',
          };
          res.writeHead(200, { 'content-type': 'text/xml' }).end(buildXml({ ...fields, sign: signFields(fields, TEST_MERCHANT.apiKey, 'MD5') }));
        });
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://localhost:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  const client = (certificate?: ConstructorParameters<typeof WeChatPayClient>[0]['certificate']) =>
    new WeChatPayClient({ baseUrl: url, ...TEST_MERCHANT, signType: 'MD5', timeoutMs: 5_000, ...(certificate ? { certificate } : {}) });
  const ask = { outTradeNo: '000000refund', outRefundNo: 'RF000000refund', totalFee: 100, refundFee: 100 };

  it('presents the certificate and gets the refund through', async () => {
    const c = client({ pfx: readFileSync(file('apiclient_cert.p12')), passphrase: TEST_MERCHANT.mchId, ca: readFileSync(file('ca.crt')) });
    try {
      expect(await c.refund(ask)).toMatchObject({ kind: 'ok', data: { refundId: '50000000000000000000000000009' } });
      expect(seenClient).toBe(TEST_MERCHANT.mchId);
    } finally {
      await c.close();
    }
  });

  it('with the wrong certificate password nothing gets through (and nothing is believed refunded)', async () => {
    const c = client({ pfx: readFileSync(file('apiclient_cert.p12')), passphrase: 'wrong', ca: readFileSync(file('ca.crt')) });
    try {
      expect((await c.refund(ask)).kind).not.toBe('ok');
    } finally {
      await c.close();
    }
  });
});
