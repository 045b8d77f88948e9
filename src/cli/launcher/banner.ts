import type { Config } from '../../config/env.js';

/**
 * What `npm start` prints once everything answers: where things are, and a walk through that
 * works pasted line by line into bash or zsh (the same one as the README's). Buyer tokens and
 * the sale window are filled in here, so nothing in it needs editing.
 */
export interface BannerInput {
  config: Config;
  useSandbox: boolean;
  /** development buyer tokens, or none in production */
  tokens?: { alice: string; bob: string };
  now?: Date;
}

const minutes = (ms: number) => (ms >= 60_000 ? `${Math.round(ms / 6_000) / 10} min` : `${ms / 1000} s`);

export function banner({ config, useSandbox, tokens, now = new Date() }: BannerInput): string {
  const api = `http://${config.host}:${config.port}`;
  const devAdmin = config.admin.user === 'admin' && config.admin.password === 'admin';
  // never print a password someone chose; the shell variable they set it from works as pasted
  const basic = devAdmin ? 'admin:admin' : `"${config.admin.user}:$ADMIN_PASSWORD"`;
  const workerMetrics = config.workerMetricsPort === 0 ? 'off (WORKER_METRICS_PORT=0)' : `http://${config.host}:${config.workerMetricsPort}/metrics`;
  const lines = [
    '',
    'seckill-timeout is running (Ctrl-C stops everything)',
    '',
    `  API              ${api}`,
    `  OpenAPI docs     ${api}/docs`,
    `  Console          ${api}/admin   (${devAdmin ? 'admin / admin' : `${config.admin.user} / your ADMIN_PASSWORD`})`,
    `  Bull Board       ${api}/admin/queues   (same credentials)`,
    `  Metrics          ${api}/metrics   worker: ${workerMetrics}`,
    `  Readiness        ${api}/ready`,
    `  WeChat Pay       ${config.wechat.baseUrl}${useSandbox ? '   (local sandbox; ledger at /sandbox/ledger)' : ''}`,
    `  Payment window   ${minutes(config.orderTimeoutMs)}`,
  ];
  if (!tokens) {
    lines.push('', 'Buyer tokens come from your login service in production (HS256 with JWT_SECRET, sub = buyer).', '');
    return lines.join('\n');
  }
  const start = now.toISOString();
  const end = new Date(now.getTime() + 86_400_000).toISOString();
  lines.push(
    '',
    'Try it in another terminal, line by line (more tokens: npm run -s token -- <buyer>):',
    '',
    `  export TOKEN=${tokens.alice}   # buyer alice`,
    `  export TOKEN2=${tokens.bob}   # buyer bob`,
    `  json() { node -p "JSON.parse(require('fs').readFileSync(0, 'utf8')).$1"; }`,
    `  GOODS=$(curl -s -u ${basic} -H 'content-type: application/json' ${api}/admin/seckill/goods -d '{"title":"demo","price":100,"stockCount":5,"startTime":"${start}","endTime":"${end}"}' | json id)`,
    `  ORDER=$(curl -s -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' ${api}/seckill/orders -d "{\\"goodsId\\":\\"$GOODS\\"}" | json orderId)`,
    `  curl -s -w '\\n' -X POST -H "authorization: Bearer $TOKEN" ${api}/seckill/orders/$ORDER/pay`,
  );
  if (useSandbox) lines.push(`  curl -s -w '\\n' -H 'content-type: application/json' ${config.sandbox.url}/sandbox/pay -d "{\\"out_trade_no\\":\\"$ORDER\\"}"   # the buyer pays`);
  lines.push(
    `  curl -s -w '\\n' -H "authorization: Bearer $TOKEN" ${api}/seckill/orders/$ORDER   # PAID a moment later`,
    `  ORDER2=$(curl -s -H "authorization: Bearer $TOKEN2" -H 'content-type: application/json' ${api}/seckill/orders -d "{\\"goodsId\\":\\"$GOODS\\"}" | json orderId)`,
    `  curl -s -w '\\n' -X POST -H "authorization: Bearer $TOKEN2" ${api}/seckill/orders/$ORDER2/cancel   # CLOSING, then CLOSED: the unit is back on sale`,
    `  curl -s -w '\\n' -u ${basic} ${api}/admin/seckill/goods/$GOODS   # stockCount 4: one sold; available 4`,
    '',
  );
  return lines.join('\n');
}
