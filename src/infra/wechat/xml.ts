import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';
import { parseCanonicalFlatXml } from './flat-xml.js';

/**
 * WeChat Pay v2 XML: one root `<xml>` with one flat level of string children.
 *
 * Parsing is deliberately narrower than XML: WeChat never sends a DTD, attributes that matter,
 * nesting or repeated fields, so anything of the kind is refused rather than interpreted. The
 * 2018 XXE forgeries against WeChat's own SDK are the reason for the DOCTYPE/ENTITY refusal and
 * the size cap, which run before any parser sees the body.
 *
 * Values are returned exactly as sent (no trimming): fast-xml-parser would otherwise trim bare
 * text but not CDATA, and WeChat pads neither, so one rule for both keeps the value we verify
 * the signature of identical to what the sender signed. Whitespace-only text between the
 * children (pretty-printed bodies, as in WeChat's own examples) is ignored.
 *
 * The five XML entities (`&amp;` …) are decoded, as a signature is computed over decoded values.
 * Numeric character references (`&#65;`) are left as written by fast-xml-parser; WeChat uses
 * CDATA, and a sender that relied on them would fail signature checks (fails closed).
 */

export const DEFAULT_MAX_XML_BYTES = 64 * 1024;

export type WeChatXmlErrorReason =
  | 'too-large'
  | 'empty'
  | 'not-utf8'
  | 'doctype'
  | 'invalid-xml'
  | 'bad-root'
  | 'not-flat'
  | 'bad-field-name';

export class WeChatXmlError extends Error {
  constructor(
    readonly reason: WeChatXmlErrorReason,
    detail?: string,
  ) {
    super(detail ? `${reason}: ${detail}` : reason);
    this.name = 'WeChatXmlError';
  }
}

// Field names WeChat uses: snake_case ASCII (coupon_fee_0 …). Anything else (`?pi`, `x:y`) is refused.
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DTD_MARKER = /<!\s*(doctype|entity)/i;

const parser = new XMLParser({
  parseTagValue: false, // '0123' and 28-digit transaction ids must stay strings
  trimValues: false,
  ignoreAttributes: true,
  ignoreDeclaration: true,
  processEntities: true, // built-in entities only; a DTD never gets this far
  htmlEntities: false,
  onDangerousProperty: (name) => {
    // The default silently renames `toString` to `__toString`; refusing is clearer.
    throw new WeChatXmlError('bad-field-name', name);
  },
});

const builder = new XMLBuilder({ cdataPropName: '__cdata', suppressEmptyNode: false });

function decode(body: string | Buffer, maxBytes: number): string {
  const size = typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.length;
  if (size > maxBytes) throw new WeChatXmlError('too-large', `${size} bytes > ${maxBytes}`);
  if (typeof body === 'string') return body;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new WeChatXmlError('not-utf8');
  }
}

/**
 * Parse a WeChat Pay v2 XML body into its fields. Throws WeChatXmlError for anything that is
 * not exactly `<xml>` with flat, non-repeated, string children.
 */
export function parseWeChatXml(body: string | Buffer, maxBytes = DEFAULT_MAX_XML_BYTES): Record<string, string> {
  const text = decode(body, maxBytes);
  if (text.trim() === '') throw new WeChatXmlError('empty');
  if (DTD_MARKER.test(text)) throw new WeChatXmlError('doctype');
  // WeChat's own shape is read without fast-xml-parser; anything else goes through it (flat-xml.ts)
  return parseCanonicalFlatXml(text) ?? parseGeneralXml(text);
}

/**
 * Any body that passed the size, encoding and DTD checks, through fast-xml-parser's validator
 * and parser. Exported for the fast path's equivalence test.
 */
export function parseGeneralXml(text: string): Record<string, string> {
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new WeChatXmlError('invalid-xml', valid.err.msg);

  let doc: unknown;
  try {
    doc = parser.parse(text);
  } catch (err) {
    if (err instanceof WeChatXmlError) throw err;
    throw new WeChatXmlError('invalid-xml', err instanceof Error ? err.message : 'parser error');
  }
  if (!isPlainObject(doc)) throw new WeChatXmlError('bad-root');
  const roots = Object.keys(doc);
  // XMLValidator accepts two roots; the parser merges them into an array under one name.
  if (roots.length !== 1 || roots[0] !== 'xml') throw new WeChatXmlError('bad-root', roots.join(',') || 'none');
  const root = doc.xml;
  // `<xml/>` and `<xml>\n</xml>` parse to a string: a message without fields.
  if (typeof root === 'string') {
    if (root.trim() !== '') throw new WeChatXmlError('not-flat', 'text directly under <xml>');
    return {};
  }
  if (!isPlainObject(root)) throw new WeChatXmlError('bad-root', 'repeated <xml>');

  const entries: [string, string][] = [];
  for (const [name, value] of Object.entries(root)) {
    if (name === '#text') {
      if (typeof value === 'string' && value.trim() === '') continue;
      throw new WeChatXmlError('not-flat', 'text directly under <xml>');
    }
    if (!FIELD_NAME.test(name)) throw new WeChatXmlError('bad-field-name', name);
    if (typeof value !== 'string') {
      throw new WeChatXmlError('not-flat', Array.isArray(value) ? `repeated <${name}>` : `nested <${name}>`);
    }
    entries.push([name, value]);
  }
  // fromEntries defines own properties, so no name can reach a prototype.
  return Object.fromEntries(entries);
}

/**
 * Build `<xml>…</xml>`. Digit-only values go bare (as WeChat sends `total_fee`), everything else
 * in CDATA (the builder splits a `]]>` inside a value). Empty values are left out: they are not
 * signed either, and an empty element would be an unsigned field for the receiver.
 */
export function buildXml(fields: Readonly<Record<string, string>>): string {
  const children: [string, string | { __cdata: string }][] = [];
  for (const [name, value] of Object.entries(fields)) {
    if (!FIELD_NAME.test(name)) throw new TypeError(`invalid WeChat field name: ${name}`);
    if (value === '') continue;
    children.push([name, /^[0-9]+$/.test(value) ? value : { __cdata: value }]);
  }
  return builder.build({ xml: Object.fromEntries(children) });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
