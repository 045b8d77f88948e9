import { createHash } from 'node:crypto';
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type * as mariadb from 'mariadb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quoteIdentifier, withDatabase } from '../../src/infra/db/connection-url.js';
import { defaultMigrationsDir, type HistoryRow, migrate, MigrationError, type MigrateLogger } from '../../src/infra/db/migrate.js';
import { connectToTestServer, dropDatabase, TEST_SERVER_URL, uniqueDatabaseName } from '../helpers/db.js';

type MigrationRow = HistoryRow;

let conn: mariadb.Connection;
const databases: string[] = [];
const tempDirs: string[] = [];

/** A database name this file owns (dropped in afterAll); the database itself is not created. */
function newDatabase(): { name: string; url: string } {
  const name = uniqueDatabaseName();
  databases.push(name);
  return { name, url: withDatabase(TEST_SERVER_URL, name) };
}

/** A migrations directory of its own, laid out like prisma/migrations. */
async function migrationsDir(migrations: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'seckill-migrations-'));
  tempDirs.push(dir);
  await writeFile(path.join(dir, 'migration_lock.toml'), 'provider = "mysql"\n');
  for (const [name, sql] of Object.entries(migrations)) {
    await mkdir(path.join(dir, name));
    await writeFile(path.join(dir, name, 'migration.sql'), sql);
  }
  return dir;
}

function recordingLogger(): MigrateLogger & { lines: Array<{ level: string; msg: string }> } {
  const lines: Array<{ level: string; msg: string }> = [];
  return {
    lines,
    info: (_obj, msg) => void lines.push({ level: 'info', msg }),
    warn: (_obj, msg) => void lines.push({ level: 'warn', msg }),
    error: (_obj, msg) => void lines.push({ level: 'error', msg }),
  };
}

async function history(database: string): Promise<MigrationRow[]> {
  return conn.query(`SELECT * FROM ${quoteIdentifier(database)}._prisma_migrations ORDER BY started_at, migration_name`);
}

async function tableExists(database: string, table: string): Promise<boolean> {
  const rows: unknown[] = await conn.query('SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [database, table]);
  return rows.length > 0;
}

async function rejection(promise: Promise<unknown>): Promise<MigrationError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MigrationError);
  return err as MigrationError;
}

const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

let projectMigrations: string[];

beforeAll(async () => {
  conn = await connectToTestServer();
  const entries = await readdir(defaultMigrationsDir(), { withFileTypes: true });
  projectMigrations = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
});

afterAll(async () => {
  await conn?.end();
  await Promise.all(databases.map((name) => dropDatabase(name)));
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('migrate() with the project migrations', () => {
  const db = newDatabase();

  it('creates the missing database (utf8mb4_unicode_ci) and applies every migration', async () => {
    const before: unknown[] = await conn.query('SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [db.name]);
    expect(before).toHaveLength(0);

    const result = await migrate({ databaseUrl: db.url });

    expect(result).toEqual({ applied: projectMigrations, alreadyApplied: [], warnings: [] });
    const [schema] = await conn.query<Array<{ cs: string; co: string }>>(
      'SELECT DEFAULT_CHARACTER_SET_NAME AS cs, DEFAULT_COLLATION_NAME AS co FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?',
      [db.name],
    );
    expect(schema).toEqual({ cs: 'utf8mb4', co: 'utf8mb4_unicode_ci' });
  });

  it('is idempotent: a second run applies nothing', async () => {
    const result = await migrate({ databaseUrl: db.url });
    expect(result).toEqual({ applied: [], alreadyApplied: projectMigrations, warnings: [] });
    expect(await history(db.name)).toHaveLength(projectMigrations.length);
  });

  it('creates _prisma_migrations exactly as Prisma does', async () => {
    const columns = await conn.query<Array<{ name: string; type: string; nullable: string; dflt: string | null; key: string }>>(
      `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type, IS_NULLABLE AS nullable, COLUMN_DEFAULT AS dflt, COLUMN_KEY AS \`key\`
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = '_prisma_migrations' ORDER BY ORDINAL_POSITION`,
      [db.name],
    );
    expect(columns.map((c) => [c.name, c.type, c.nullable, c.key])).toEqual([
      ['id', 'varchar(36)', 'NO', 'PRI'],
      ['checksum', 'varchar(64)', 'NO', ''],
      ['finished_at', 'datetime(3)', 'YES', ''],
      ['migration_name', 'varchar(255)', 'NO', ''],
      ['logs', 'text', 'YES', ''],
      ['rolled_back_at', 'datetime(3)', 'YES', ''],
      ['started_at', 'datetime(3)', 'NO', ''],
      ['applied_steps_count', 'int(10) unsigned', 'NO', ''],
    ]);
    expect(columns.find((c) => c.name === 'started_at')!.dflt).toBe('current_timestamp(3)');
    expect(columns.find((c) => c.name === 'applied_steps_count')!.dflt).toBe('0');
  });

  it('records each migration like `prisma migrate deploy`: uuid, sha256 of the file, finished, one step', async () => {
    const [utcNow] = await conn.query<Array<{ now: string }>>('SELECT UTC_TIMESTAMP(3) AS now');
    const rows = await history(db.name);
    for (const [i, name] of projectMigrations.entries()) {
      const row = rows[i]!;
      const file = await readFile(path.join(defaultMigrationsDir(), name, 'migration.sql'));
      expect(row).toMatchObject({ migration_name: name, checksum: sha256(file), logs: null, rolled_back_at: null, applied_steps_count: 1 });
      expect(row.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(row.finished_at).not.toBeNull();
      expect(row.finished_at! >= row.started_at).toBe(true);
      // Timestamps are UTC, like the engine's chrono::Utc::now(), whatever the server's time zone.
      const ageMs = Date.parse(`${utcNow!.now.replace(' ', 'T')}Z`) - Date.parse(`${row.started_at.replace(' ', 'T')}Z`);
      expect(ageMs).toBeGreaterThanOrEqual(0);
      expect(ageMs).toBeLessThan(60_000);
    }
  });
});

describe('migrate() and failures', () => {
  it('reports a failing migration, leaves it unfinished, blocks later runs, and resumes once it is rolled back', async () => {
    const db = newDatabase();
    const dir = await migrationsDir({
      '20260101000000_first': 'CREATE TABLE first_table (id INT NOT NULL PRIMARY KEY);\n',
      '20260102000000_broken': "CREATE TABLE half_done (id INT NOT NULL);\nINSERT INTO no_such_table VALUES ('x;y');\n",
      '20260103000000_later': 'CREATE TABLE later_table (id INT NOT NULL);\n',
    });
    const logger = recordingLogger();

    const failure = await rejection(migrate({ databaseUrl: db.url, migrationsDir: dir, logger }));
    expect(failure.code).toBe('MIGRATION_FAILED');
    expect(failure.details).toMatchObject({ migrationName: '20260102000000_broken', databaseErrorCode: '1146' });
    expect(failure.message).toContain('Migration name: 20260102000000_broken');
    expect(failure.message).toMatch(/no_such_table' doesn't exist/);
    expect(logger.lines).toContainEqual({ level: 'error', msg: 'migration 20260102000000_broken failed' });

    let rows = await history(db.name);
    expect(rows.map((r) => [r.migration_name, r.finished_at === null, r.applied_steps_count])).toEqual([
      ['20260101000000_first', false, 1],
      ['20260102000000_broken', true, 0],
    ]);
    expect(rows[1]!.logs).toMatch(/Database error code: 1146[\s\S]*no_such_table' doesn't exist/);
    // MySQL DDL is not transactional: the statement before the failing one stays applied.
    expect(await tableExists(db.name, 'half_done')).toBe(true);
    expect(await tableExists(db.name, 'later_table')).toBe(false);

    const blocked = await rejection(migrate({ databaseUrl: db.url, migrationsDir: dir }));
    expect(blocked.code).toBe('FAILED_MIGRATION_FOUND');
    expect(blocked.details.migrationName).toBe('20260102000000_broken');
    expect(blocked.message).toMatch(/The `20260102000000_broken` migration started at .* UTC failed with the following logs:/);
    expect(blocked.message).toContain('prisma migrate resolve --rolled-back 20260102000000_broken');
    expect(await tableExists(db.name, 'later_table')).toBe(false);

    // The documented recovery: repair, mark the failed attempt rolled back, run again.
    await writeFile(path.join(dir, '20260102000000_broken', 'migration.sql'), 'CREATE TABLE IF NOT EXISTS half_done (id INT NOT NULL);\n');
    await conn.query(
      `UPDATE ${quoteIdentifier(db.name)}._prisma_migrations SET rolled_back_at = UTC_TIMESTAMP(3) WHERE migration_name = ? AND finished_at IS NULL`,
      ['20260102000000_broken'],
    );
    const resumed = await migrate({ databaseUrl: db.url, migrationsDir: dir });
    expect(resumed).toEqual({ applied: ['20260102000000_broken', '20260103000000_later'], alreadyApplied: ['20260101000000_first'], warnings: [] });
    rows = await history(db.name);
    expect(rows.filter((r) => r.migration_name === '20260102000000_broken').map((r) => [r.rolled_back_at === null, r.finished_at === null])).toEqual([
      [false, true],
      [true, false],
    ]);
  });

  it('warns when an applied migration was edited, but not when only its line endings changed', async () => {
    const db = newDatabase();
    const sql = '-- a comment\nCREATE TABLE edited (id INT NOT NULL);\n';
    const dir = await migrationsDir({ '20260101000000_edited': sql });
    await migrate({ databaseUrl: db.url, migrationsDir: dir });
    const file = path.join(dir, '20260101000000_edited', 'migration.sql');

    await writeFile(file, sql.replaceAll('\n', '\r\n'));
    expect((await migrate({ databaseUrl: db.url, migrationsDir: dir })).warnings).toEqual([]);

    await writeFile(file, `${sql}CREATE TABLE sneaked_in (id INT);\n`);
    const logger = recordingLogger();
    const result = await migrate({ databaseUrl: db.url, migrationsDir: dir, logger });
    expect(result.applied).toEqual([]);
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]).toMatch(/20260101000000_edited was modified after it was applied/);
    expect(logger.lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual(result.warnings);
    expect(await tableExists(db.name, 'sneaked_in')).toBe(false);
  });

  it('sends scripts whole: semicolons and question marks inside strings and comments are not statement ends', async () => {
    const db = newDatabase();
    const dir = await migrationsDir({
      '20260101000000_tricky': [
        '/* a block comment; with a semicolon */',
        'CREATE TABLE tricky (v VARCHAR(50) NOT NULL);',
        "INSERT INTO tricky VALUES ('a;b'), ('what?'), ('it''s; fine');",
        '-- trailing comment; after the last statement',
        '',
      ].join('\n'),
    });
    await migrate({ databaseUrl: db.url, migrationsDir: dir });
    const rows = await conn.query<Array<{ v: string }>>(`SELECT v FROM ${quoteIdentifier(db.name)}.tricky ORDER BY v`);
    expect(rows.map((r) => r.v)).toEqual(['a;b', "it's; fine", 'what?']);
  });

  it('refuses a non-empty database that has no migration history (P3005)', async () => {
    const db = newDatabase();
    await conn.query(`CREATE DATABASE ${quoteIdentifier(db.name)}`);
    await conn.query(`CREATE TABLE ${quoteIdentifier(db.name)}.stranger (id INT)`);
    const err = await rejection(migrate({ databaseUrl: db.url }));
    expect(err.code).toBe('DATABASE_NOT_EMPTY');
    expect(await tableExists(db.name, '_prisma_migrations')).toBe(false);
  });

  it('refuses a migrations directory locked to another provider', async () => {
    const dir = await migrationsDir({});
    await writeFile(path.join(dir, 'migration_lock.toml'), 'provider = "postgresql"\n');
    const err = await rejection(migrate({ databaseUrl: newDatabase().url, migrationsDir: dir }));
    expect(err.code).toBe('INVALID_MIGRATIONS');
    expect(err.message).toContain('postgresql');
  });

  it('reports a refused connection with the server address', async () => {
    const err = await rejection(migrate({ databaseUrl: 'mysql://root@127.0.0.1:1/seckill_unreachable' }));
    expect(err.code).toBe('CONNECTION_FAILED');
    expect(err.details).toMatchObject({ server: '127.0.0.1:1', databaseErrorCode: 'ECONNREFUSED' });
  });
});

describe('migrate() run by several processes at once', () => {
  it('applies each migration exactly once', async () => {
    const db = newDatabase();
    const results = await Promise.all(Array.from({ length: 6 }, () => migrate({ databaseUrl: db.url })));

    const appliers = results.filter((r) => r.applied.length > 0);
    expect(appliers).toHaveLength(1);
    expect(appliers[0]!.applied).toEqual(projectMigrations);
    for (const result of results.filter((r) => r.applied.length === 0)) expect(result.alreadyApplied).toEqual(projectMigrations);
    const rows = await history(db.name);
    expect(rows.map((r) => r.migration_name)).toEqual(projectMigrations);
    expect(rows.every((r) => r.finished_at !== null)).toBe(true);
  });
});
