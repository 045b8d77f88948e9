/**
 * For tests: everything production needs besides the variable under test (design §8), so a
 * test can start a production configuration and change one thing.
 */
export const PRODUCTION_READY = {
  JWT_SECRET: 'a-long-random-production-secret-0123456789',
  ADMIN_USER: 'ops',
  ADMIN_PASSWORD: 'a-strong-password',
  WECHAT_APPID: 'wx1234567890abcdef',
  WECHAT_MCH_ID: '1900000109',
  WECHAT_API_KEY: 'abcdefghijklmnopqrstuvwxyz012345',
  WECHAT_NOTIFY_URL: 'https://shop.example.com/pay/wechat/notify',
} as const;
