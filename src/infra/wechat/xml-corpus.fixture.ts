import type { WeChatXmlErrorReason } from './xml.js';

/**
 * Hostile and malformed XML bodies, shared by the parser's tests and the sandbox's endpoint
 * tests: each with the WeChatXmlError reason it must be refused with.
 */
export const BILLION_LAUGHS = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<xml><return_code>&lol4;</return_code></xml>`;

const XXE = `<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><attach>&xxe;</attach></xml>`;

/** Each body and the reason it must be refused with. */
export const HOSTILE_XML: readonly (readonly [string, string | Buffer, WeChatXmlErrorReason])[] = [
  ['DOCTYPE with external entity (XXE)', XXE, 'doctype'],
  ['internal entity expansion (billion laughs)', BILLION_LAUGHS, 'doctype'],
  ['lower-case doctype', '<!doctype xml><xml><a>1</a></xml>', 'doctype'],
  ['ENTITY without DOCTYPE', '<xml><!ENTITY a "b"><a>1</a></xml>', 'doctype'],
  ['DOCTYPE hidden in CDATA', '<xml><a><![CDATA[<!DOCTYPE x>]]></a></xml>', 'doctype'],
  ['duplicated tag', '<xml><out_trade_no>1</out_trade_no><out_trade_no>2</out_trade_no></xml>', 'not-flat'],
  ['nested tag', '<xml><return_code><value>SUCCESS</value></return_code></xml>', 'not-flat'],
  ['text directly under the root', '<xml>SUCCESS<a>1</a></xml>', 'not-flat'],
  ['two roots', '<xml><a>1</a></xml><xml><b>2</b></xml>', 'invalid-xml'],
  // XMLValidator accepts this one; the root check catches it.
  ['two roots, different names', '<xml><a>1</a></xml><other/>', 'bad-root'],
  ['wrong root', '<root><a>1</a></root>', 'bad-root'],
  ['upper-case root', '<XML><a>1</a></XML>', 'bad-root'],
  ['namespaced root', '<w:xml xmlns:w="urn:x"><a>1</a></w:xml>', 'bad-root'],
  ['processing instruction inside', '<xml><?evil x?><a>1</a></xml>', 'bad-field-name'],
  ['prototype name', '<xml><__proto__>1</__proto__></xml>', 'invalid-xml'],
  ['Object method name', '<xml><toString>1</toString></xml>', 'bad-field-name'],
  ['JSON garbage', '{"return_code":"SUCCESS"}', 'invalid-xml'],
  ['plain text', 'SUCCESS', 'invalid-xml'],
  ['unclosed tag', '<xml><a>1</a>', 'invalid-xml'],
  ['mismatched tags', '<xml><a>1<b></a></b></xml>', 'invalid-xml'],
  ['trailing garbage', '<xml><a>1</a></xml>garbage', 'invalid-xml'],
  ['bare ampersand', '<xml><a>a&b</a></xml>', 'invalid-xml'],
  ['empty string', '', 'empty'],
  ['whitespace only', ' \n\t', 'empty'],
  ['oversized body', `<xml><a>${'x'.repeat(64 * 1024)}</a></xml>`, 'too-large'],
  ['not UTF-8', Buffer.from([0x3c, 0x78, 0x6d, 0x6c, 0x3e, 0xff, 0xfe, 0x3c, 0x2f, 0x78, 0x6d, 0x6c, 0x3e]), 'not-utf8'],
];

