/**
 * design §8: settings that are fine on a laptop and dangerous in production. In production
 * (NODE_ENV=production, or WeChat Pay's real host) each one refuses the start, naming the
 * variable and the fix; in development each is one warning.
 */

export interface UnsafeSetting {
  variable: string;
  problem: string;
}

export interface SafetyInput {
  /** set, and not one of the secrets published in this repository */
  jwtSecretSet: boolean;
  adminUser: string;
  adminPassword: string;
  adminSet: boolean;
  appId: string;
  mchId: string;
  apiKey: string;
  notifyUrl: string;
  /** WECHAT_PAY_BASE_URL names WeChat Pay itself (not the sandbox) */
  realWeChatHost: boolean;
  testVector: { appId: string; mchId: string; apiKey: string };
  devAdmin: { user: string; password: string };
}

/** Loopback, private and link-local addresses: WeChat's servers cannot reach them. */
function isPrivateHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost') || host.endsWith('.local') || host === '::1' || host === '0.0.0.0') return true;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.\d{1,3}\.\d{1,3}$/.exec(host);
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    return a === 127 || a === 10 || (a === 192 && b === 168) || (a === 172 && b >= 16 && b <= 31) || (a === 169 && b === 254) || a === 0;
  }
  return host.startsWith('fc') || host.startsWith('fd') || host.startsWith('fe80');
}

export function unsafeSettings(s: SafetyInput): UnsafeSetting[] {
  const found: UnsafeSetting[] = [];
  if (!s.jwtSecretSet) {
    found.push({ variable: 'JWT_SECRET', problem: 'not set (or a value published in this repository): the development secret is public, anyone could sign a token for any buyer; set a long random secret' });
  }
  if (!s.adminSet || (s.adminUser === s.devAdmin.user && s.adminPassword === s.devAdmin.password)) {
    found.push({ variable: 'ADMIN_USER/ADMIN_PASSWORD', problem: 'the development credentials admin/admin guard the admin API and Bull Board; set your own' });
  }
  const vector = s.testVector;
  if (s.appId === vector.appId || s.mchId === vector.mchId || s.apiKey === vector.apiKey) {
    found.push({ variable: 'WECHAT_APPID/WECHAT_MCH_ID/WECHAT_API_KEY', problem: "WeChat's published test-vector merchant values: set your merchant's own" });
  }
  let notify: URL | undefined;
  try {
    notify = new URL(s.notifyUrl);
  } catch {
    notify = undefined;
  }
  if (!notify || notify.protocol !== 'https:' || isPrivateHost(notify.hostname)) {
    found.push({ variable: 'WECHAT_NOTIFY_URL', problem: `${s.notifyUrl} is not a public HTTPS URL: WeChat cannot deliver payment notifications to it` });
  }
  if (!s.realWeChatHost) {
    found.push({ variable: 'WECHAT_PAY_BASE_URL', problem: 'payments go to the local WeChat sandbox, which takes no real money: set https://api.mch.weixin.qq.com' });
  }
  return found;
}
