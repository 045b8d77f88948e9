import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ApiClient, SandboxClient } from './lib/client.js';
import { Cluster, SECRETS } from './lib/cluster.js';
import type { Experiment, ExperimentContext } from './lib/experiment.js';
import { Judge } from './lib/invariants.js';
import { allViolations, line, machine, markdownTable, type RunRecord } from './lib/report.js';
import { EXPERIMENTS } from './experiments/index.js';

/**
 * `npm run chaos [-- --only <name>[,<name>]] [--short] [--record]`
 *
 * Starts the system as separate processes (API, two workers, the WeChat sandbox) on a private
 * Redis (AOF everysec), RabbitMQ node and MariaDB, then runs each experiment: load, faults, and
 * the invariants once everything has settled. One line per experiment, then `N passed, N failed`;
 * the exit code is non-zero when anything failed. `--short` runs each at a tenth of its size
 * (what CI runs); `--record` writes the figures to RELIABILITY.md.
 */

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    short: { type: 'boolean', default: false },
    record: { type: 'boolean', default: false },
    workers: { type: 'string', default: '2' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  console.log(`usage: npm run chaos [-- --only <name>[,<name>…]] [--short] [--record] [--workers N]\n\nexperiments:\n${EXPERIMENTS.map((e) => `  ${e.name.padEnd(24)} ${e.title}`).join('\n')}`);
  process.exit(0);
}

const wanted = values.only?.split(',').map((s) => s.trim()).filter(Boolean);
const unknown = wanted?.filter((name) => !EXPERIMENTS.some((e) => e.name === name)) ?? [];
if (unknown.length > 0) {
  console.error(`unknown experiment(s): ${unknown.join(', ')}; known: ${EXPERIMENTS.map((e) => e.name).join(', ')}`);
  process.exit(2);
}
const workerCount = Number(values.workers);
if (!Number.isInteger(workerCount) || workerCount < 2) {
  console.error('--workers must be an integer ≥ 2');
  process.exit(2);
}
const selected: readonly Experiment[] = wanted ? EXPERIMENTS.filter((e) => wanted.includes(e.name)) : EXPERIMENTS;
const scale = values.short ? 0.1 : 1;

const say = (text: string) => process.stderr.write(`  · ${text}\n`);
const machineLine = machine();
const logDir = join(tmpdir(), `seckill-chaos-${new Date().toISOString().replace(/[:.]/g, '-')}`);
mkdirSync(logDir, { recursive: true });
console.log(`chaos: ${selected.length} experiment(s)${values.short ? ' (short)' : ''} on ${machineLine}`);

const started = Date.now();
let cluster: Cluster | undefined;
const records: RunRecord[] = [];
let interrupted = false;
// Ctrl-C or a TERM stops the private servers before exiting; a second signal (npm and tsx pass
// one on, a person presses twice) must not cut that short and leave a mariadbd or a RabbitMQ node
// behind, so it only says that the stop is under way.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) return void console.error('still stopping the private services…');
    interrupted = true;
    console.error(`\n${signal}: stopping the private services…`);
    void (cluster?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

try {
  cluster = await Cluster.create(logDir, workerCount, say);
  const api = new ApiClient(cluster.apiUrl, SECRETS);
  const sandbox = new SandboxClient(cluster.sandboxUrl);
  const judge = new Judge(cluster.redis.url, cluster.databaseUrl);
  const ctx: ExperimentContext = { cluster, api, sandbox, judge, scale, say };
  for (const experiment of selected) {
    if (interrupted) break;
    say(`${experiment.name}: ${experiment.title}`);
    const t0 = Date.now();
    let record: RunRecord;
    try {
      await sandbox.healthy();
      const result = await experiment.run(ctx);
      record = { name: experiment.name, title: experiment.title, passed: false, seconds: (Date.now() - t0) / 1000, result };
      record.passed = allViolations(record).length === 0;
    } catch (err) {
      record = { name: experiment.name, title: experiment.title, passed: false, seconds: (Date.now() - t0) / 1000, error: `crashed: ${(err as Error).stack ?? String(err)}` };
    }
    records.push(record);
    console.log(line(record));
  }
  await api.close();
  await sandbox.close();
  judge.close();
} catch (err) {
  console.error(`chaos: could not run: ${(err as Error).stack ?? String(err)}`);
  records.push({ name: 'setup', title: 'setup', passed: false, seconds: 0, error: String(err) });
} finally {
  await cluster?.stop().catch((err: Error) => console.error(`stopping the private services: ${err.message}`));
}

const passed = records.filter((r) => r.passed).length;
const failed = records.length - passed;
writeFileSync(join(logDir, 'results.json'), JSON.stringify({ machine: machineLine, scale, records }, null, 2));
console.log(`\n${passed} passed, ${failed} failed  (${((Date.now() - started) / 1000).toFixed(0)} s; logs and results.json in ${logDir})`);

if (values.record) {
  const file = new URL('../RELIABILITY.md', import.meta.url);
  const text = readFileSync(file, 'utf8');
  const begin = '<!-- chaos:begin -->';
  const end = '<!-- chaos:end -->';
  const block = `${begin}\nLatest run: ${new Date().toISOString().slice(0, 10)}, \`npm run chaos${values.short ? ' -- --short' : ''}\`${wanted ? ` (only ${wanted.join(', ')})` : ''}, ${passed} passed, ${failed} failed.\nMachine: ${machineLine}.\n\n${markdownTable(records)}\n${end}`;
  const at = text.indexOf(begin);
  const after = text.indexOf(end);
  writeFileSync(file, at >= 0 && after > at ? text.slice(0, at) + block + text.slice(after + end.length) : `${text.trimEnd()}\n\n${block}\n`);
  console.log('RELIABILITY.md updated');
}
process.exit(failed === 0 ? 0 : 1);
