/**
 * The fast path of `parseWeChatXml` (xml.ts): WeChat's own, canonical shape only —
 *
 *     <xml><name><![CDATA[value]]></name><name>value</name>…</xml>
 *
 * with optional layout whitespace (space, tab, newline) around the root and between fields.
 * Every field is either exactly one CDATA section or plain text without `<`, `&` or `\r`.
 *
 * It never refuses and never interprets: anything outside that shape (a declaration, a comment,
 * an entity, an attribute, a self-closing or repeated tag, a carriage return, a control
 * character, a name an object already has …) gives `undefined`, and the caller hands the body to
 * fast-xml-parser, which decides. For every body it accepts, the result equals what the full
 * path returns (a randomised test compares the two on thousands of bodies): it only avoids
 * running fast-xml-parser's validator and parser — ≈ 75 µs per notification, the notify
 * endpoint's largest cost — on the one shape WeChat actually sends.
 */

const OPEN = /^[ \t\n]*<xml>/y;
// one field: its name, then either one CDATA section (content without `]]>`) or plain text
const FIELD = /[ \t\n]*<([A-Za-z_][A-Za-z0-9_]*)>(?:<!\[CDATA\[([^\]]*(?:\](?!\]>)[^\]]*)*)\]\]>|([^<&\r]*))<\/\1>/y;
const CLOSE = /[ \t\n]*<\/xml>[ \t\n]*$/y;
// characters XML forbids or normalises, left to the full parser to judge
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const UNUSUAL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\r\ufffe\uffff]/;

/** The fields of a body in WeChat's canonical flat shape, or undefined for anything else. */
export function parseCanonicalFlatXml(text: string): Record<string, string> | undefined {
  if (UNUSUAL.test(text)) return undefined;
  OPEN.lastIndex = 0;
  if (!OPEN.test(text)) return undefined;
  FIELD.lastIndex = OPEN.lastIndex;
  // own properties only (as fromEntries gives the full path); names every object has are refused
  // below, so no name can reach the prototype
  const fields: Record<string, string> = {};
  let at = FIELD.lastIndex;
  for (let match = FIELD.exec(text); match; match = FIELD.exec(text)) {
    const name = match[1]!;
    // a repeated field, a name every object has (`constructor`, `__proto__`) or `prototype`
    // (fast-xml-parser refuses the three as dangerous): the full path decides
    if (name in Object.prototype || name === 'prototype' || Object.hasOwn(fields, name)) return undefined;
    fields[name] = match[2] ?? match[3] ?? '';
    at = FIELD.lastIndex;
  }
  CLOSE.lastIndex = at;
  return CLOSE.test(text) ? fields : undefined;
}
