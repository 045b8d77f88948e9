import { describe, expect, it } from 'vitest';
import { parseCanonicalFlatXml } from './flat-xml.js';
import { HOSTILE_XML } from './xml-corpus.fixture.js';
import { buildXml, parseGeneralXml, parseWeChatXml } from './xml.js';

/** A small deterministic PRNG (mulberry32): a failure names its seed and can be replayed. */
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick };
}

// pieces a hostile or sloppy sender could put anywhere: markup, entities, CDATA ends, odd
// whitespace and characters XML forbids or normalises
const PIECES = ['<', '>', '&', '&amp;', '&#65;', '&lt;', ']]>', ']]', ']', '<![CDATA[', '</', '/>', '<a>', '</a>', '<!-- c -->', '<?pi x?>', ' ', '\t', '\n', '\r', '\r\n', '\u0000', '\u0007', '\u00a0', '\ufeff', '\uffff', '中文', '"', "'", '=', 'x', '0', 'SUCCESS', '__proto__', 'constructor'];
const NAMES = ['appid', 'out_trade_no', 'total_fee', 'sign', 'a', '_x', 'coupon_fee_0', 'A1', 'xml', 'toString', '__proto__', 'prototype', 'constructor', '1bad', 'bad-name', 'w:x', 'a b'];

function value(r: ReturnType<typeof random>, pieces: readonly string[]): string {
  let v = '';
  for (let n = r.int(5); n > 0; n--) v += r.next() < 0.5 ? r.pick(pieces) : r.pick(['1409811653', 'wx2421b1c4370ec43b', 'CNY', '']);
  return v;
}

// what a well-behaved sender puts in CDATA and in plain text
// eslint-disable-next-line no-control-regex -- the characters the fast path must leave alone
const CDATA_SAFE = PIECES.filter((p) => !/[\u0000-\u0008\r\uffff]|\]\]>/.test(p));
const TEXT_SAFE = CDATA_SAFE.filter((p) => !/[<&]/.test(p));

/** Half the bodies in WeChat's canonical shape with varied content, half anything at all. */
function body(r: ReturnType<typeof random>): string {
  const clean = r.next() < 0.5;
  const ws = () => r.pick(clean ? ['', '', ' ', '\n', '\n  ', '\t'] : ['', ' ', '\n', '\t', '\r\n']);
  let out = ws() + (!clean && r.next() < 0.1 ? '<?xml version="1.0"?>' : '') + ws() + (clean ? '<xml>' : r.pick(['<xml>', '<xml>', '<xml >', '<XML>', '<xml a="1">']));
  const used = new Set<string>();
  for (let n = r.int(6); n > 0; n--) {
    let name = r.next() < 0.85 ? r.pick(NAMES.slice(0, 7)) : r.pick(NAMES);
    if (clean && (used.has(name) || !/^[A-Za-z_]\w*$/.test(name) || name in Object.prototype || name === 'prototype')) name = `f${used.size}`;
    used.add(name);
    const cdata = r.next() < 0.5;
    const inner = cdata ? `<![CDATA[${value(r, clean ? CDATA_SAFE : PIECES)}]]>` : value(r, clean ? TEXT_SAFE : PIECES);
    out += ws() + `<${name}>${inner}</${clean || r.next() < 0.9 ? name : r.pick(NAMES)}>`;
  }
  out += ws() + (clean ? '</xml>' : r.pick(['</xml>', '</xml>', '', '</XML>', '</xml><xml></xml>'])) + ws();
  // a few random edits: any character anywhere
  for (let n = !clean && r.next() < 0.5 ? r.int(3) + 1 : 0; n > 0; n--) {
    const at = r.int(out.length + 1);
    out = r.next() < 0.5 ? out.slice(0, at) + r.pick(PIECES) + out.slice(at) : out.slice(0, at) + out.slice(at + 1);
  }
  return out;
}

const full = (text: string): { ok: Record<string, string> } | { error: string } => {
  try {
    return { ok: parseGeneralXml(text) };
  } catch (err) {
    return { error: (err as Error).message };
  }
};

describe('parseCanonicalFlatXml (the notify endpoint fast path)', () => {
  it('gives exactly what fast-xml-parser gives, for every body it accepts (20 000 random bodies)', () => {
    let accepted = 0;
    let fallenBack = 0;
    for (let seed = 1; seed <= 20_000; seed++) {
      const text = body(random(seed));
      const fast = parseCanonicalFlatXml(text);
      if (fast === undefined) {
        fallenBack++;
        continue;
      }
      accepted++;
      expect({ seed, text, result: full(text) }).toEqual({ seed, text, result: { ok: fast } });
    }
    // both branches were exercised in earnest, so the comparison above is not vacuous
    expect(accepted).toBeGreaterThan(3_000);
    expect(fallenBack).toBeGreaterThan(3_000);
  });

  it('accepts what WeChat and buildXml send, and hands everything hostile to the full parser', () => {
    const fields = { appid: 'wx2421b1c4370ec43b', attach: '支付测试 <&> ]] x', out_trade_no: '000123', total_fee: '1', transaction_id: '1004400740201409030005092168' };
    expect(parseCanonicalFlatXml(buildXml(fields))).toEqual(fields);
    expect(parseCanonicalFlatXml('\n<xml>\n  <a>1</a>\n  <b><![CDATA[x]]></b>\n</xml>\n')).toEqual({ a: '1', b: 'x' });
    expect(parseCanonicalFlatXml('<xml></xml>')).toEqual({});
    for (const [name, hostile, reason] of HOSTILE_XML) {
      // these are refused before either parser runs (xml.ts)
      if (typeof hostile !== 'string' || reason === 'doctype' || reason === 'too-large') continue;
      expect({ name, fast: parseCanonicalFlatXml(hostile) }).toEqual({ name, fast: undefined });
    }
  });

  it('leaves entities, comments, CRs and repeated fields to the full parser, which still decides', () => {
    for (const text of ['<xml><a>a&amp;b</a></xml>', '<xml><!-- c --><a>1</a></xml>', '<xml><a>1\r\n2</a></xml>', '<xml><a>1</a><a>2</a></xml>', '<xml><a/></xml>', '<?xml version="1.0"?><xml><a>1</a></xml>']) {
      expect(parseCanonicalFlatXml(text)).toBeUndefined();
    }
    expect(parseWeChatXml('<xml><a>a&amp;b</a></xml>')).toEqual({ a: 'a&b' });
    expect(() => parseWeChatXml('<xml><a>1</a><a>2</a></xml>')).toThrow(/not-flat/);
  });
});
