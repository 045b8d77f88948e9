import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { withDatabase } from '../../src/infra/db/connection-url.js';
import { defaultMigrationsDir } from '../../src/infra/db/migrate.js';
import { dropDatabase, TEST_SERVER_URL, uniqueDatabaseName } from '../helpers/db.js';

/** `npm run db:migrate` as a person runs it: a child process, its output and exit code. */

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const database = uniqueDatabaseName();
const migrations = readdirSync(defaultMigrationsDir(), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

function runCli(databaseUrl: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      path.join(root, 'node_modules/.bin/tsx'),
      ['src/cli/migrate.ts'],
      { cwd: root, env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

afterAll(async () => {
  await dropDatabase(database);
});

describe('db:migrate', () => {
  it('applies the migrations, then reports the database up to date', async () => {
    const url = withDatabase(TEST_SERVER_URL, database);
    const first = await runCli(url);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout).toBe(`Applied ${migrations.length} migration(s):\n${migrations.map((m) => `  ${m}\n`).join('')}`);

    const second = await runCli(url);
    expect(second).toMatchObject({ code: 0, stdout: `Database is up to date (${migrations.length} migration(s) already applied).\n` });
  });

  it('exits non-zero with a hint when nothing listens at the address', async () => {
    const result = await runCli('mysql://root@127.0.0.1:1/seckill_unreachable');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('is MariaDB running at 127.0.0.1:1? Start it with `start-stop-daemon');
  });
});
