import { accessSync, constants, readFileSync } from 'node:fs';
import { unsafeSettings } from './production-safety.js';
import { type RedisClusterTarget, type RedisTls, hashTagSpan, isClusterUrl, isTlsUrl, parseClusterUrl } from './redis-target.js';
import { z } from 'zod';

/**
 * Every variable of docs/contract.md (the contract's and a few of our own), validated once into a typed,
 * frozen object. A bad value stops the process with one message naming each bad variable
 * (see ConfigError). Nothing in the code reads process.env directly.
 */

const WECHAT_HOSTS = new Set(['api.mch.weixin.qq.com', 'api2.mch.weixin.qq.com']);
// Sandbox merchant: the values of WeChat's official signature test vector.
const SANDBOX_APPID = 'wxd930ea5d5a258f4f';
const SANDBOX_MCH_ID = '10000100';
const SANDBOX_API_KEY = '192006250b4c09247ec02edce69f6a2d';
const DEV_JWT_SECRET = 'dev-only-jwt-secret-change-me';
/** Secrets published in this repository (our default, docker-compose.yml's): never for production. */
const PUBLIC_JWT_SECRETS = [DEV_JWT_SECRET, 'compose-dev-jwt-secret-change-me'];
const DEV_ADMIN_USER = 'admin';
const DEV_ADMIN_PASSWORD = 'admin';

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const url = (protocols: string[]) =>
  z.string().refine((value) => {
    try {
      return protocols.includes(new URL(value).protocol);
    } catch {
      return false;
    }
  }, `must be a URL with protocol ${protocols.join(' or ')}`);

const baseSchema = z.object({
    PORT: port.default(3000),
    HOST: z.string().min(1).default('127.0.0.1'),
    // redis:// or rediss:// (one Redis), or redis+cluster://host:port,… (a Redis Cluster)
    REDIS_URL: z
      .string()
      .min(1)
      .default('redis://127.0.0.1:6379')
      .superRefine((value, ctx) => {
        const problem = redisUrlProblem(value);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }),
    // PEM: the CA to trust for rediss:// or rediss+cluster:// instead of the system's
    REDIS_TLS_CA_FILE: z.string().min(1).optional(),
    DATABASE_URL: url(['mysql:', 'mariadb:']).default('mysql://root@127.0.0.1:3306/seckill'),
    AMQP_URL: url(['amqp:', 'amqps:']).default('amqp://guest:guest@127.0.0.1:5672'),
    ORDER_TIMEOUT_MS: positiveInt.default(1_800_000),
    WECHAT_PAY_BASE_URL: url(['http:', 'https:']).optional(),
    WECHAT_APPID: z.string().min(1).max(32).default(SANDBOX_APPID),
    WECHAT_MCH_ID: z.string().min(1).max(32).default(SANDBOX_MCH_ID),
    WECHAT_API_KEY: z.string().length(32, 'must be exactly 32 characters').default(SANDBOX_API_KEY),
    WECHAT_SIGN_TYPE: z.enum(['MD5', 'HMAC-SHA256']).default('MD5'),
    WECHAT_NOTIFY_URL: url(['http:', 'https:'])
      .refine((value) => !value.includes('?'), 'must not contain a query string (WeChat rule)')
      .optional(),
    WECHAT_TIMEOUT_MS: positiveInt.default(5_000),
    WECHAT_CLOSE_MIN_AGE_MS: z.coerce.number().int().min(0).default(300_000),
    WECHAT_CERT_P12: z.string().min(1).optional(),
    WECHAT_CERT_PASSWORD: z.string().min(1).optional(),
    AUTO_REFUND_LATE_PAYMENTS: z.enum(['true', 'false']).default('true'),
    PAYMENT_LOOKUP_AFTER_MS: positiveInt.default(60_000),
    PAYMENT_LOOKUP_MIN_INTERVAL_MS: z.coerce.number().int().min(0).default(5_000),
    JWT_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
    ADMIN_USER: z.string().min(1).optional(),
    ADMIN_PASSWORD: z.string().min(1).optional(),
    WORKER_CONCURRENCY: positiveInt.max(1000).default(50),
    PAYMENT_WORKER_CONCURRENCY: positiveInt.max(1000).default(200),
    WORKER_METRICS_PORT: port.default(9464),
    WORKER_LOCK_MS: positiveInt.min(1_000).default(30_000),
    WORKER_STALLED_INTERVAL_MS: positiveInt.min(500).default(30_000),
    QUEUE_PREFIX: z.string().min(1).default('{seckill}'),
    QUEUE_SHARDS: positiveInt.max(64).default(1),
    KEY_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits, _ . : - only (no braces: hash tags are added per goods)')
      .default('sk'),
    AMQP_EXCHANGE: z.string().min(1).default('exchange.order'),
    AMQP_QUEUE: z.string().min(1).default('queue.seckillorder'),
    AMQP_ROUTING_KEY: z.string().min(1).default('queue.seckillorder'),
    AMQP_DEAD_LETTER_QUEUE: z.string().min(1).default('queue.seckillorder.dead'),
    AMQP_PREFETCH: positiveInt.max(10_000).default(500),
    AMQP_PUBLISH_TIMEOUT_MS: positiveInt.default(1_500),
    SWEEPER_INTERVAL_MS: positiveInt.default(30_000),
    TIMER_PUMP_INTERVAL_MS: positiveInt.max(60_000).default(100),
    SOLD_OUT_RECHECK_MS: z.coerce.number().int().min(0).max(60_000).default(1_000),
    PERSISTER_BATCH_SIZE: positiveInt.max(5_000).default(500),
    PERSISTER_LINGER_MS: positiveInt.max(60_000).default(20),
    CLOSE_MAX_ATTEMPTS: positiveInt.max(100).default(8),
    CLOSE_BACKOFF_MS: positiveInt.default(1_000),
    RECONCILIATION_ENABLED: z.enum(['true', 'false']).default('true'),
    RECONCILIATION_AT: z
      .string()
      .regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, 'must be HH:MM (Beijing time)')
      .refine((value) => value >= '10:00', "must be 10:00 or later: WeChat's bill of the previous day is ready from about 10:00 Beijing time")
      .default('10:30'),
    RECONCILIATION_GZIP: z.enum(['true', 'false']).default('true'),
    RECONCILIATION_MAX_BILL_BYTES: positiveInt.default(256 * 1024 * 1024),
    RECONCILIATION_RETRY_MS: positiveInt.default(60_000),
    SANDBOX_HOST: z.string().min(1).default('127.0.0.1'),
    SANDBOX_PORT: port.default(3100),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  });

const schema = baseSchema.superRefine((env, ctx) => {
    for (const issue of redisIssues(env)) ctx.addIssue({ code: 'custom', ...issue });
    // design §8: in production every unsafe default refuses the start
    if (isProductionEnv(env)) {
      const why = env.NODE_ENV === 'production' ? 'NODE_ENV=production' : 'WECHAT_PAY_BASE_URL is WeChat Pay';
      for (const u of unsafeSettings(safetyInput(env))) {
        ctx.addIssue({ code: 'custom', path: [u.variable], message: `${u.problem} (refused in production: ${why})` });
      }
    }
    const base = env.WECHAT_PAY_BASE_URL;
    if (base && WECHAT_HOSTS.has(new URL(base).hostname) && env.ORDER_TIMEOUT_MS < 300_000) {
      ctx.addIssue({
        code: 'custom',
        path: ['ORDER_TIMEOUT_MS'],
        message: 'must be >= 300000 when WECHAT_PAY_BASE_URL is WeChat Pay (closeorder is refused within 5 minutes)',
      });
    }
    if (env.REDIS_TLS_CA_FILE) {
      if (!readable(env.REDIS_TLS_CA_FILE)) ctx.addIssue({ code: 'custom', path: ['REDIS_TLS_CA_FILE'], message: 'cannot read this file (the CA certificate to trust for Redis TLS, PEM)' });
      else if (!readFileSync(env.REDIS_TLS_CA_FILE, 'utf8').includes('-----BEGIN CERTIFICATE-----')) ctx.addIssue({ code: 'custom', path: ['REDIS_TLS_CA_FILE'], message: 'is not a PEM certificate (no -----BEGIN CERTIFICATE----- line)' });
      if (!isTlsUrl(env.REDIS_URL)) ctx.addIssue({ code: 'custom', path: ['REDIS_TLS_CA_FILE'], message: 'is only used with TLS: REDIS_URL must be rediss://… or rediss+cluster://…' });
    }
    if (env.WECHAT_CERT_P12 && !readable(env.WECHAT_CERT_P12)) {
      ctx.addIssue({ code: 'custom', path: ['WECHAT_CERT_P12'], message: 'cannot read this file (the merchant API certificate, PKCS#12)' });
    }
    if (base && WECHAT_HOSTS.has(new URL(base).hostname) && env.AUTO_REFUND_LATE_PAYMENTS === 'true' && !env.WECHAT_CERT_P12) {
      ctx.addIssue({
        code: 'custom',
        path: ['WECHAT_CERT_P12'],
        message: 'required against WeChat Pay while AUTO_REFUND_LATE_PAYMENTS=true (refunds need the merchant certificate); or set AUTO_REFUND_LATE_PAYMENTS=false',
      });
    }
    if (base && WECHAT_HOSTS.has(new URL(base).hostname) && env.WECHAT_CLOSE_MIN_AGE_MS < 300_000) {
      ctx.addIssue({
        code: 'custom',
        path: ['WECHAT_CLOSE_MIN_AGE_MS'],
        message: 'must be >= 300000 against WeChat Pay: it refuses closeorder within 5 minutes of the order\'s creation',
      });
    }
  });

function redisUrlProblem(value: string): string | undefined {
  if (isClusterUrl(value)) {
    const parsed = parseClusterUrl(value);
    return 'problem' in parsed ? parsed.problem : undefined;
  }
  if (url(['redis:', 'rediss:']).safeParse(value).success) return undefined;
  return 'must be a URL with protocol redis: or rediss:, or redis+cluster://host:port,host:port (rediss+cluster:// with TLS) for a Redis Cluster';
}

/** The cluster REDIS_URL names (if any) and its TLS trust, with REDIS_TLS_CA_FILE read once. */
function redisTargetOf(env: ParsedEnv): { redisCluster?: RedisClusterTarget; redisTls?: RedisTls } {
  const tls: RedisTls | undefined = isTlsUrl(env.REDIS_URL) ? (env.REDIS_TLS_CA_FILE ? { ca: readFileSync(env.REDIS_TLS_CA_FILE, 'utf8') } : {}) : undefined;
  if (!isClusterUrl(env.REDIS_URL)) return tls ? { redisTls: tls } : {};
  const cluster = parseClusterUrl(env.REDIS_URL) as RedisClusterTarget;
  // a cluster's TLS travels with its nodes (redisCluster.tls), as cluster-check.ts needs it too
  return { redisCluster: { ...cluster, ...(tls ? { tls } : {}) } };
}

/** What a cluster (or sharded queues) asks of QUEUE_PREFIX (design §9). */
function redisIssues(env: ParsedEnv): { path: string[]; message: string }[] {
  const issues: { path: string[]; message: string }[] = [];
  const cluster = isClusterUrl(env.REDIS_URL);
  if (!hashTagSpan(env.QUEUE_PREFIX)) {
    // BullMQ's scripts touch many keys of one queue: on a cluster they must share a slot
    if (cluster) issues.push({ path: ['QUEUE_PREFIX'], message: 'must contain a hash tag such as {seckill} when REDIS_URL names a Redis Cluster (each queue\'s keys must share one slot)' });
    else if (env.QUEUE_SHARDS > 1) issues.push({ path: ['QUEUE_PREFIX'], message: `must contain a hash tag such as {seckill} when QUEUE_SHARDS > 1 (each shard gets its own: {seckill:0}, {seckill:1}, …)` });
  }
  return issues;
}

function readable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

type ParsedEnv = z.infer<typeof baseSchema>;

const isRealWeChatHost = (env: Pick<ParsedEnv, 'WECHAT_PAY_BASE_URL'>) => Boolean(env.WECHAT_PAY_BASE_URL && WECHAT_HOSTS.has(new URL(env.WECHAT_PAY_BASE_URL).hostname));
const isProductionEnv = (env: ParsedEnv) => env.NODE_ENV === 'production' || isRealWeChatHost(env);
const defaultNotifyUrl = (env: ParsedEnv) => env.WECHAT_NOTIFY_URL ?? `http://127.0.0.1:${env.PORT}/pay/wechat/notify`;

function safetyInput(env: ParsedEnv) {
  return {
    jwtSecretSet: Boolean(env.JWT_SECRET) && !PUBLIC_JWT_SECRETS.includes(env.JWT_SECRET ?? ''),
    adminUser: env.ADMIN_USER ?? DEV_ADMIN_USER,
    adminPassword: env.ADMIN_PASSWORD ?? DEV_ADMIN_PASSWORD,
    adminSet: Boolean(env.ADMIN_USER && env.ADMIN_PASSWORD),
    appId: env.WECHAT_APPID,
    mchId: env.WECHAT_MCH_ID,
    apiKey: env.WECHAT_API_KEY,
    notifyUrl: defaultNotifyUrl(env),
    realWeChatHost: isRealWeChatHost(env),
    testVector: { appId: SANDBOX_APPID, mchId: SANDBOX_MCH_ID, apiKey: SANDBOX_API_KEY },
    devAdmin: { user: DEV_ADMIN_USER, password: DEV_ADMIN_PASSWORD },
  };
}

export type RawEnv = Record<string, string | undefined>;

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly redisUrl: string;
  /** REDIS_URL named a Redis Cluster (redis+cluster://… or rediss+cluster://…): its seed nodes, credentials and TLS */
  readonly redisCluster?: RedisClusterTarget;
  /** REDIS_URL is one Redis over TLS (rediss://): what to trust (a cluster's: redisCluster.tls) */
  readonly redisTls?: RedisTls;
  readonly databaseUrl: string;
  readonly amqpUrl: string;
  readonly orderTimeoutMs: number;
  readonly keyPrefix: string;
  readonly queuePrefix: string;
  /** queues split into this many shards, each under its own hash tag (src/infra/queues/shards.ts) */
  readonly queueShards: number;
  readonly workerConcurrency: number;
  /**
   * payment-result jobs in flight per worker process: pure Redis work (no WeChat call), so more
   * in flight means more commands per socket write and per Redis round trip (BENCHMARKS.md)
   */
  readonly paymentWorkerConcurrency: number;
  /** BullMQ lock of an active job; a crashed worker's job is retried after it lapses */
  readonly workerLockMs: number;
  /** worker's Prometheus listener (0 = off) */
  readonly workerMetricsPort: number;
  readonly workerStalledIntervalMs: number;
  readonly logLevel: string;
  readonly sweeperIntervalMs: number;
  /** how often workers turn queued timer requests into delayed jobs */
  readonly timerPumpIntervalMs: number;
  /**
   * How often an API process re-reads the stock of goods it remembers as sold out (the bound on
   * a missed restock notification); 0: no memory, every grab asks Redis.
   */
  readonly soldOutRecheckMs: number;
  /** the outbox persister: orders per MySQL transaction, and how long it lets entries gather */
  readonly persister: { readonly batchSize: number; readonly lingerMs: number };
  readonly close: { readonly maxAttempts: number; readonly backoffMs: number };
  readonly wechat: {
    readonly baseUrl: string;
    readonly isProduction: boolean;
    readonly appId: string;
    readonly mchId: string;
    readonly apiKey: string;
    readonly signType: 'MD5' | 'HMAC-SHA256';
    readonly notifyUrl: string;
    readonly timeoutMs: number;
    /** no closeorder before the WeChat order is this old (WeChat's 5-minute rule) */
    readonly closeMinAgeMs: number;
    /** the merchant API certificate (PKCS#12) for refunds, when configured */
    readonly certificateFile?: { readonly path: string; readonly passphrase: string };
    /** refund a payment that arrives after its order was closed (else: review only) */
    readonly autoRefund: boolean;
    /** lost notifications: orderquery this long after /pay (then doubling), and at most this often per order on a buyer's GET */
    readonly lookup: { readonly afterMs: number; readonly minIntervalMs: number };
  };
  readonly jwtSecret: string;
  readonly admin: { readonly user: string; readonly password: string };
  readonly amqp: {
    readonly exchange: string;
    readonly queue: string;
    readonly routingKey: string;
    readonly deadLetterQueue: string;
    readonly prefetch: number;
    readonly publishTimeoutMs: number;
  };
  /**
   * T+1 reconciliation (src/domain/reconciliation): the daily job at `hour:minute` Beijing time
   * (when enabled) reconciles yesterday; a run that meets a retryable failure tries again after
   * retryMs, doubling, `attempts` times in all.
   */
  readonly reconciliation: {
    readonly enabled: boolean;
    readonly hour: number;
    readonly minute: number;
    readonly gzip: boolean;
    readonly maxBillBytes: number;
    readonly retryMs: number;
    readonly attempts: number;
  };
  readonly sandbox: { readonly host: string; readonly port: number; readonly url: string };
  /** NODE_ENV=production or the real WeChat host: unsafe defaults refuse the start, Redis must be durable */
  readonly production: boolean;
  /** Development defaults in use; printed as warnings at start-up. */
  readonly warnings: readonly string[];
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parse and validate the environment. Throws ConfigError naming every bad variable. */
export function loadConfig(raw: RawEnv = process.env): Config {
  // Empty strings count as "not set" so `FOO= npm start` falls back to the default.
  const cleaned = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = issue.path.join('.') || '(environment)';
      const value = cleaned[name];
      const shown = value === undefined ? 'missing' : name.includes('KEY') || name.includes('SECRET') || name.includes('PASSWORD') ? 'given value' : JSON.stringify(value);
      return `${name}: ${issue.message} (${shown})`;
    });
    throw new ConfigError(problems);
  }
  const env = parsed.data;
  const sandboxUrl = `http://${env.SANDBOX_HOST}:${env.SANDBOX_PORT}`;
  const baseUrl = (env.WECHAT_PAY_BASE_URL ?? sandboxUrl).replace(/\/+$/, '');
  const realWeChatHost = WECHAT_HOSTS.has(new URL(baseUrl).hostname);
  const notifyUrl = defaultNotifyUrl(env);
  const production = isProductionEnv(env);
  // production refusals were raised by the schema; in development each is a warning
  const unsafe = unsafeSettings(safetyInput(env));
  const warnings = unsafe.map((u) => `${u.variable}: ${u.problem} (fine for development, refused in production)`);
  return Object.freeze({
    port: env.PORT,
    host: env.HOST,
    redisUrl: env.REDIS_URL,
    ...redisTargetOf(env),
    databaseUrl: env.DATABASE_URL,
    amqpUrl: env.AMQP_URL,
    orderTimeoutMs: env.ORDER_TIMEOUT_MS,
    keyPrefix: env.KEY_PREFIX,
    queuePrefix: env.QUEUE_PREFIX,
    queueShards: env.QUEUE_SHARDS,
    workerConcurrency: env.WORKER_CONCURRENCY,
    paymentWorkerConcurrency: env.PAYMENT_WORKER_CONCURRENCY,
    workerLockMs: env.WORKER_LOCK_MS,
    workerMetricsPort: env.WORKER_METRICS_PORT,
    workerStalledIntervalMs: env.WORKER_STALLED_INTERVAL_MS,
    logLevel: env.LOG_LEVEL,
    sweeperIntervalMs: env.SWEEPER_INTERVAL_MS,
    timerPumpIntervalMs: env.TIMER_PUMP_INTERVAL_MS,
    soldOutRecheckMs: env.SOLD_OUT_RECHECK_MS,
    persister: { batchSize: env.PERSISTER_BATCH_SIZE, lingerMs: env.PERSISTER_LINGER_MS },
    close: { maxAttempts: env.CLOSE_MAX_ATTEMPTS, backoffMs: env.CLOSE_BACKOFF_MS },
    wechat: {
      baseUrl,
      isProduction: realWeChatHost,
      appId: env.WECHAT_APPID,
      mchId: env.WECHAT_MCH_ID,
      apiKey: env.WECHAT_API_KEY,
      signType: env.WECHAT_SIGN_TYPE,
      notifyUrl,
      timeoutMs: env.WECHAT_TIMEOUT_MS,
      closeMinAgeMs: env.WECHAT_CLOSE_MIN_AGE_MS,
      lookup: { afterMs: env.PAYMENT_LOOKUP_AFTER_MS, minIntervalMs: env.PAYMENT_LOOKUP_MIN_INTERVAL_MS },
      ...(env.WECHAT_CERT_P12 ? { certificateFile: { path: env.WECHAT_CERT_P12, passphrase: env.WECHAT_CERT_PASSWORD ?? env.WECHAT_MCH_ID } } : {}),
      autoRefund: env.AUTO_REFUND_LATE_PAYMENTS === 'true',
    },
    production,
    jwtSecret: env.JWT_SECRET ?? DEV_JWT_SECRET,
    admin: { user: env.ADMIN_USER ?? DEV_ADMIN_USER, password: env.ADMIN_PASSWORD ?? DEV_ADMIN_PASSWORD },
    amqp: {
      exchange: env.AMQP_EXCHANGE,
      queue: env.AMQP_QUEUE,
      routingKey: env.AMQP_ROUTING_KEY,
      deadLetterQueue: env.AMQP_DEAD_LETTER_QUEUE,
      prefetch: env.AMQP_PREFETCH,
      publishTimeoutMs: env.AMQP_PUBLISH_TIMEOUT_MS,
    },
    reconciliation: {
      enabled: env.RECONCILIATION_ENABLED === 'true',
      hour: Number(env.RECONCILIATION_AT.slice(0, 2)),
      minute: Number(env.RECONCILIATION_AT.slice(3, 5)),
      gzip: env.RECONCILIATION_GZIP === 'true',
      maxBillBytes: env.RECONCILIATION_MAX_BILL_BYTES,
      retryMs: env.RECONCILIATION_RETRY_MS,
      // 1 + 2 + … + 2^10 retry delays: about 34 hours at the default 60 s (a bill still
      // "creating" at 10:30, a WeChat outage) before the run is FAILED for a person
      attempts: 12,
    },
    sandbox: { host: env.SANDBOX_HOST, port: env.SANDBOX_PORT, url: sandboxUrl },
    warnings,
  });
}

/** For entry points: load or print every problem and exit(1). */
export function loadConfigOrExit(raw: RawEnv = process.env): Config {
  try {
    return loadConfig(raw);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
