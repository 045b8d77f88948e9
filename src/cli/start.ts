import { type ChildProcess, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type Config, loadConfigOrExit } from '../config/env.js';

/**
 * `npm start`: the whole system on one machine. Checks the local services, applies migrations,
 * starts the WeChat sandbox (unless a real WeChat URL is configured), the API and one worker,
 * prints the URLs, and stops everything cleanly on Ctrl-C.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const config = loadConfigOrExit();
for (const warning of config.warnings) console.warn(`warning: ${warning}`);

interface Service {
  name: string;
  url: string;
  start: string;
}

const SERVICES = (c: Config): Service[] => [
  { name: 'Redis', url: c.redisUrl, start: 'redis-server --daemonize yes --appendonly yes --maxmemory-policy noeviction' },
  { name: 'MySQL/MariaDB', url: c.databaseUrl, start: 'start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd   (or: docker compose up -d mariadb)' },
  { name: 'RabbitMQ', url: c.amqpUrl, start: 'rabbitmq-server -detached   (or: docker compose up -d rabbitmq)' },
];

const DEFAULT_PORTS: Record<string, number> = { 'redis:': 6379, 'rediss:': 6379, 'mysql:': 3306, 'mariadb:': 3306, 'amqp:': 5672, 'amqps:': 5671 };

function reachable(raw: string, timeoutMs = 2_000): Promise<boolean> {
  const url = new URL(raw);
  const port = Number(url.port) || DEFAULT_PORTS[url.protocol] || 0;
  return new Promise((resolve) => {
    const socket = connect({ host: url.hostname, port, timeout: timeoutMs });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
  });
}

const redact = (raw: string) => raw.replace(/\/\/([^:@/]+):([^@/]+)@/, '//$1:***@');

async function checkServices(): Promise<void> {
  const down: Service[] = [];
  for (const service of SERVICES(config)) if (!(await reachable(service.url))) down.push(service);
  if (down.length === 0) return;
  for (const s of down) console.error(`✗ ${s.name} is not reachable at ${redact(s.url)}\n    start it with: ${s.start}`);
  process.exit(1);
}

function run(name: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  // Own process group (detached): Ctrl-C reaches only this launcher, which then stops each child
  // exactly once. The IPC channel is how a child notices that the launcher died (kill -9, a
  // closed terminal): it disconnects, and the child shuts down gracefully instead of living on.
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  const tag = `[${name}]`.padEnd(10);
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream?.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) process.stdout.write(`${tag}${line}\n`);
    });
  }
  return child;
}

async function waitForHttp(url: string, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      if ((await fetch(url)).ok) return true;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

/** A development buyer token, so the printed curl examples work as they are. */
function demoToken(sub: string): string {
  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub, iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 86_400 })}`;
  return `${body}.${createHmac('sha256', config.jwtSecret).update(body).digest('base64url')}`;
}

await checkServices();

// Prisma Client is generated code (not committed); make sure it matches prisma/schema.prisma.
const generated = spawn(process.execPath, ['scripts/generate.mjs'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
if ((await new Promise<number>((resolve) => generated.once('exit', (code) => resolve(code ?? 1)))) !== 0) process.exit(1);

console.log('applying database migrations…');
const migration = spawn(process.execPath, ['--import', 'tsx', 'src/cli/migrate.ts'], { cwd: root, stdio: 'inherit' });
const migrated = await new Promise<number>((resolve) => migration.once('exit', (code) => resolve(code ?? 1)));
if (migrated !== 0) process.exit(migrated);

const children = new Map<string, ChildProcess>();
const useSandbox = config.wechat.baseUrl === config.sandbox.url;
if (useSandbox) children.set('sandbox', run('sandbox', ['src/sandbox/main.ts']));
children.set('api', run('api', ['src/api/main.ts']));
children.set('worker', run('worker', ['src/workers/main.ts']));

let stopping = false;
async function stopAll(code: number): Promise<never> {
  stopping = true;
  const alive = [...children.values()].filter((c) => c.exitCode === null && c.signalCode === null);
  await Promise.all(
    alive.map(
      (child) =>
        new Promise<void>((resolve) => {
          const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
          child.once('exit', () => (clearTimeout(kill), resolve()));
          child.kill('SIGTERM');
        }),
    ),
  );
  console.log('all processes stopped');
  process.exit(code);
}

for (const [name, child] of children) {
  child.once('exit', (code, signal) => {
    if (stopping) return;
    console.error(`${name} exited unexpectedly (${signal ?? `code ${code}`}); stopping the others`);
    void stopAll(1);
  });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    console.log(`\n${signal}: stopping api, worker${useSandbox ? ', sandbox' : ''}…`);
    void stopAll(0);
  });
}

const api = `http://${config.host}:${config.port}`;
const up = await waitForHttp(`${api}/health`, 60_000);
if (!up && !stopping) {
  console.error(`the API did not answer at ${api}/health within 60 s`);
  await stopAll(1);
}
if (!stopping) {
  const token = demoToken('demo-buyer');
  console.log(`
seckill-timeout is running (Ctrl-C stops everything)

  API              ${api}
  OpenAPI docs     ${api}/docs
  Bull Board       ${api}/admin/queues   (admin: ${config.admin.user} / ${config.admin.password === 'admin' ? 'admin' : '***'})
  Metrics          ${api}/metrics   (worker: http://${config.host}:${config.workerMetricsPort}/metrics)
  Readiness        ${api}/ready
  WeChat Pay       ${config.wechat.baseUrl}${useSandbox ? '   (local sandbox; ledger at /sandbox/ledger)' : ''}
  Payment window   ${config.orderTimeoutMs} ms

Try it:
  curl -u ${config.admin.user}:<password> -H 'content-type: application/json' ${api}/admin/seckill/goods \\
    -d '{"title":"demo","price":100,"stockCount":5,"startTime":"${new Date().toISOString()}","endTime":"${new Date(Date.now() + 86_400_000).toISOString()}"}'
  curl -H 'authorization: Bearer ${token}' -H 'content-type: application/json' ${api}/seckill/orders -d '{"goodsId":"<id>"}'
`);
}
