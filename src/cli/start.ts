import { fileURLToPath } from 'node:url';
import { loadConfigOrExit } from '../config/env.js';
import { wantsPrettyLogs } from '../infra/logger.js';
import { signBuyerToken } from './dev-token.js';
import { banner } from './launcher/banner.js';
import { createOutput } from './launcher/output.js';
import { watchParent } from './launcher/parent-watch.js';
import { createProcesses } from './launcher/processes.js';
import { missingServices, redact, waitForHttp } from './launcher/services.js';
import { SERVER_NODE_FLAGS } from '../infra/node-flags.js';

/**
 * `npm start`: the whole system on one machine. Checks the local services, applies migrations,
 * starts the WeChat sandbox (unless a real WeChat URL is configured), the API and one worker,
 * prints the URLs with a walk through, and stops everything on Ctrl-C, SIGTERM or SIGHUP, or when
 * whoever started it (npm, a terminal) goes away.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const config = loadConfigOrExit();
const output = createOutput({ pretty: wantsPrettyLogs(), level: config.logLevel });
const { log } = output;
// No development-default warnings here: the API prints them (it serves those defaults), once
// for the whole system (src/infra/launched.ts).
const processes = createProcesses(root, output);

// A closed terminal or a reader that went away must not crash the launcher before it stopped
// the others: output is best effort, stopping is not.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);

let stopped: Promise<void> | undefined;
const stopping = () => stopped !== undefined;
/** Stops every process once (a second caller waits for the same stop), then exits. */
async function stopAll(code: number, why: string): Promise<never> {
  stopped ??= (async () => {
    log.info(`${why}: stopping every process`);
    await processes.stopAll();
    log.info('all processes stopped');
  })();
  await stopped;
  process.exit(code);
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (!stopping()) return void stopAll(0, signal);
    // each process still stops gracefully: it was sent SIGTERM, and it notices the launcher is gone
    log.warn(`${signal} again: exiting now`);
    process.exit(1);
  });
}
watchParent((reason) => void stopAll(0, reason));

const down = await missingServices(config);
if (down.length > 0) {
  for (const s of down) process.stderr.write(`✗ ${s.name} is not reachable at ${redact(s.url)}\n    start it with: ${s.start}\n`);
  process.exit(1);
}

// Once a stop has begun, `processes` starts nothing more and each step below ends in stopAll's
// exit, so a signal at any point of the start-up leaves nothing behind.

// Prisma Client is generated code (not committed); make sure it matches prisma/schema.prisma.
if ((await processes.run('generate', ['scripts/generate.mjs'], { quiet: true })) !== 0) await stopAll(1, 'prisma generate failed');
log.info('applying database migrations…');
// its summary line is enough here; `npm run db:migrate` shows each step
const migrated = await processes.run('migrate', ['--import', 'tsx', 'src/cli/migrate.ts'], { env: { LOG_LEVEL: 'warn' } });
if (migrated !== 0) await stopAll(migrated, 'migrations failed');

const useSandbox = config.wechat.baseUrl === config.sandbox.url;
if (useSandbox) processes.start('sandbox', ['src/sandbox/main.ts'], (exit) => void stopAll(1, `the sandbox exited unexpectedly (${exit})`));
processes.start('api', [...SERVER_NODE_FLAGS, 'src/api/main.ts'], (exit) => void stopAll(1, `the API exited unexpectedly (${exit})`));
processes.start('worker', [...SERVER_NODE_FLAGS, 'src/workers/main.ts'], (exit) => void stopAll(1, `the worker exited unexpectedly (${exit})`));

const api = `http://${config.host}:${config.port}`;
if (!(await waitForHttp(`${api}/health`, 60_000, stopping))) await stopAll(1, `the API did not answer at ${api}/health within 60 s`);
const tokens = config.production ? undefined : { alice: signBuyerToken(config.jwtSecret, 'alice'), bob: signBuyerToken(config.jwtSecret, 'bob') };
output.text(banner({ config, useSandbox, ...(tokens ? { tokens } : {}) }));
