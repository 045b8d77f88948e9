/** The WeChat Pay v2 adapter: client, signatures, XML and time helpers. */
export { WeChatPayClient } from './client.js';
export * from './result.js';
export { nonceStr, signFields, stringToSign, verifySignature, isSignType, SIGN_TYPES, type SignType, type SignableFields } from './sign.js';
export { buildXml, parseWeChatXml, WeChatXmlError, DEFAULT_MAX_XML_BYTES, type WeChatXmlErrorReason } from './xml.js';
export { toBeijingTime, fromBeijingTime } from './time.js';
