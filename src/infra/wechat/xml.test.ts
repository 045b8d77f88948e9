import { describe, expect, it } from 'vitest';
import { buildXml, parseWeChatXml, WeChatXmlError } from './xml.js';
import { HOSTILE_XML } from './xml-corpus.fixture.js';

describe('parseWeChatXml: hostile and malformed bodies', () => {
  it.each(HOSTILE_XML)('refuses %s', (_name, body, reason) => {
    let caught: unknown;
    try {
      parseWeChatXml(body);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(WeChatXmlError);
    expect((caught as WeChatXmlError).reason).toBe(reason);
  });

  it('applies a caller-chosen cap in bytes, not characters', () => {
    const body = '<xml><body><![CDATA[测试]]></body></xml>'; // 2 chars, 6 bytes of UTF-8
    expect(() => parseWeChatXml(body, Buffer.byteLength(body) - 1)).toThrow(WeChatXmlError);
    expect(parseWeChatXml(body, Buffer.byteLength(body))).toEqual({ body: '测试' });
  });
});

describe('parseWeChatXml: WeChat data survives', () => {
  it('keeps leading zeros and 28-digit ids as exact strings, bare or in CDATA', () => {
    const fields = parseWeChatXml(
      '<xml><out_trade_no>000123456</out_trade_no><nonce_str><![CDATA[0012abc]]></nonce_str>' +
        '<transaction_id>4200000123202401011234567890</transaction_id><total_fee>1</total_fee>' +
        '<cash_fee><![CDATA[0]]></cash_fee><rate>1e3</rate><hex>0x10</hex></xml>',
    );
    expect(fields).toEqual({
      out_trade_no: '000123456',
      nonce_str: '0012abc',
      transaction_id: '4200000123202401011234567890',
      total_fee: '1',
      cash_fee: '0',
      rate: '1e3',
      hex: '0x10',
    });
  });

  it('parses the production notification capture from the spec', () => {
    const fields = parseWeChatXml(`<xml><appid><![CDATA[wx4fe135a46ae46e63]]></appid>
<bank_type><![CDATA[CFT]]></bank_type>
<total_fee>1</total_fee>
<transaction_id><![CDATA[4010122001201707161072533313]]></transaction_id>
</xml>`);
    expect(fields).toEqual({ appid: 'wx4fe135a46ae46e63', bank_type: 'CFT', total_fee: '1', transaction_id: '4010122001201707161072533313' });
  });

  it('decodes the XML entities in bare text but not inside CDATA', () => {
    expect(parseWeChatXml('<xml><a>x &amp; y &lt;z&gt;</a><b><![CDATA[x &amp; y]]></b></xml>')).toEqual({ a: 'x & y <z>', b: 'x &amp; y' });
  });

  it('keeps values exactly as sent (no trimming), ignoring layout whitespace between fields', () => {
    const body = '<?xml version="1.0" encoding="UTF-8"?>\n<xml>\n   <a><![CDATA[ padded ]]></a>\n   <b> 1 </b>\n</xml>\n';
    expect(parseWeChatXml(body)).toEqual({ a: ' padded ', b: ' 1 ' });
  });

  it('accepts a Buffer, empty elements, comments and ignores attributes', () => {
    expect(parseWeChatXml(Buffer.from('<xml><!-- c --><a x="1">v</a><b></b><c/></xml>'))).toEqual({ a: 'v', b: '', c: '' });
  });

  it('gives an empty record for an empty root', () => {
    expect(parseWeChatXml('<xml/>')).toEqual({});
    expect(parseWeChatXml('<xml>\n</xml>')).toEqual({});
  });
});

describe('buildXml', () => {
  it('round-trips every kind of value through parseWeChatXml', () => {
    const fields = {
      out_trade_no: '000123456',
      total_fee: '1',
      transaction_id: '4200000123202401011234567890',
      body: '测试 & <商品>',
      attach: 'a]]>b',
      code_url: 'weixin://wxpay/bizpayurl?pr=w2iazEs',
    };
    const xml = buildXml(fields);
    expect(xml).toContain('<total_fee>1</total_fee>');
    expect(xml).toContain('<body><![CDATA[测试 & <商品>]]></body>');
    expect(parseWeChatXml(xml)).toEqual(fields);
  });

  it('leaves out empty values and refuses names that are not WeChat field names', () => {
    expect(buildXml({ a: '1', b: '' })).toBe('<xml><a>1</a></xml>');
    expect(() => buildXml({ 'a b': '1' })).toThrow(TypeError);
  });
});
