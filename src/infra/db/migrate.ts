import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import * as mariadb from 'mariadb';
import { DatabaseUrlError, parseDatabaseUrl, quoteIdentifier, type DatabaseUrl } from './connection-url.js';

/**
 * Applies prisma/migrations/<name>/migration.sql without Prisma's schema engine, which Prisma's
 * CLI has to download first (impossible without internet access). It reproduces what
 * `prisma migrate deploy` does for MySQL closely enough that the engine, where it exists, agrees
 * with what was applied here:
 *
 * - the same `_prisma_migrations` table (DDL copied from prisma-engines' MySQL flavour),
 * - the same bookkeeping per migration: a row inserted with a v4 uuid and the sha256 (hex) of the
 *   script before it runs; `applied_steps_count + 1` and `finished_at` after it succeeds; the
 *   error text in `logs` (and `finished_at` left NULL) when it fails,
 * - the same refusals: a failed migration in the history blocks everything (P3009), a non-empty
 *   database without a history is not touched (P3005), a lock file naming another provider stops
 *   the run (P3019),
 * - the same advisory lock name, so this runner and `prisma migrate deploy` exclude each other.
 *
 * Each script is sent whole with `multipleStatements`, exactly as the engine does (one text
 * query), so the server, not a home-made splitter, decides where statements end.
 */

export interface MigrateLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface MigrateOptions {
  databaseUrl: string;
  /** Defaults to the project's prisma/migrations. */
  migrationsDir?: string;
  logger?: MigrateLogger;
  /** How long to wait for another process's migration run to finish. */
  lockTimeoutSeconds?: number;
}

export interface MigrateResult {
  /** Migrations applied by this call, in order. */
  applied: string[];
  /** Migrations that were already applied before this call, in order. */
  alreadyApplied: string[];
  /** Drift found on the way (edited or missing migration files); also logged as warnings. */
  warnings: string[];
}

export type MigrationErrorCode =
  /** The database URL is unusable (no database name, bad parameters). */
  | 'INVALID_DATABASE_URL'
  /** The server could not be reached or refused the credentials. */
  | 'CONNECTION_FAILED'
  /** The migrations directory is missing, unreadable, or its lock file names another provider. */
  | 'INVALID_MIGRATIONS'
  /** Another process held the migration lock for longer than lockTimeoutSeconds. */
  | 'LOCK_TIMEOUT'
  /** Tables exist but `_prisma_migrations` does not (Prisma's P3005). */
  | 'DATABASE_NOT_EMPTY'
  /** An earlier run failed and was not resolved (Prisma's P3009). */
  | 'FAILED_MIGRATION_FOUND'
  /** A migration script failed now (Prisma's P3018). */
  | 'MIGRATION_FAILED';

export interface MigrationErrorDetails {
  readonly migrationName?: string;
  /** Server error number (e.g. 1146) or the driver's code when there is none. */
  readonly databaseErrorCode?: string;
  readonly databaseError?: string;
  /** `host:port` of the server, for connection problems. */
  readonly server?: string;
}

export class MigrationError extends Error {
  constructor(
    readonly code: MigrationErrorCode,
    message: string,
    readonly details: MigrationErrorDetails = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MigrationError';
  }
}

/** Name shared with prisma-engines (`SELECT GET_LOCK('prisma_migrate', 10)`). Server-wide. */
const LOCK_NAME = 'prisma_migrate';
const MIGRATIONS_TABLE = '_prisma_migrations';
const RESOLVE_DOCS = 'https://pris.ly/d/migrate-resolve';

// Verbatim from prisma-engines (sql-schema-connector, flavour/mysql.rs: create_migrations_table).
const CREATE_MIGRATIONS_TABLE = `CREATE TABLE _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             DATETIME(3),
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          DATETIME(3),
    started_at              DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    applied_steps_count     INTEGER UNSIGNED NOT NULL DEFAULT 0
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
`;

const noopLogger: MigrateLogger = { info() {}, warn() {}, error() {} };

/**
 * The project's prisma/migrations. Resolved from this module rather than the working directory
 * so `npm run db:migrate` and tests work from anywhere; src/infra/db and dist/infra/db are both
 * three levels below the project root.
 */
export function defaultMigrationsDir(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../prisma/migrations');
}

export async function migrate(options: MigrateOptions): Promise<MigrateResult> {
  const logger = options.logger ?? noopLogger;
  const migrationsDir = options.migrationsDir ?? defaultMigrationsDir();
  const url = parseUrl(options.databaseUrl);
  const database = url.database;
  if (database === undefined) {
    throw new MigrationError('INVALID_DATABASE_URL', 'the database URL names no database (expected mysql://user@host:port/<database>)');
  }
  // Read every script before touching the server: a broken checkout should fail without side effects.
  const local = await readMigrations(migrationsDir);

  const conn = await connect(url);
  let locked = false;
  try {
    await acquireLock(conn, options.lockTimeoutSeconds ?? 60, url);
    locked = true;
    await ensureDatabase(conn, database, logger);
    await conn.query(`USE ${quoteIdentifier(database)}`);
    await ensureMigrationsTable(conn, database, logger);

    const history = await loadHistory(conn);
    detectFailedMigrations(history);

    const warnings = checkAppliedMigrations(local, history);
    for (const warning of warnings) logger.warn({ database }, warning);

    const applied: string[] = [];
    const alreadyApplied: string[] = [];
    for (const migration of local) {
      const isApplied = history.some((row) => row.migration_name === migration.name && row.rolled_back_at === null);
      if (isApplied) {
        alreadyApplied.push(migration.name);
        continue;
      }
      await applyMigration(conn, migration, database, logger);
      applied.push(migration.name);
    }
    if (applied.length === 0) {
      logger.info({ database, migrations: alreadyApplied.length }, 'database schema is up to date');
    }
    return { applied, alreadyApplied, warnings };
  } finally {
    if (locked) await conn.query('SELECT RELEASE_LOCK(?)', [LOCK_NAME]).catch(() => undefined);
    // end() fails if the connection already broke; destroy() then frees the socket regardless.
    await conn.end().catch(() => conn.destroy());
  }
}

interface LocalMigration {
  readonly name: string;
  readonly script: string;
  readonly checksum: string;
  /** Whether a recorded checksum is this script's, whatever git did to its line endings. */
  readonly matchesChecksum: (checksum: string) => boolean;
}

/** A row of `_prisma_migrations`, as Prisma keeps it. */
export interface HistoryRow {
  id: string;
  checksum: string;
  finished_at: string | null;
  migration_name: string;
  logs: string | null;
  rolled_back_at: string | null;
  started_at: string;
  applied_steps_count: number;
}

function parseUrl(raw: string): DatabaseUrl {
  try {
    return parseDatabaseUrl(raw);
  } catch (err) {
    if (err instanceof DatabaseUrlError) throw new MigrationError('INVALID_DATABASE_URL', err.message, {}, { cause: err });
    throw err;
  }
}

async function readMigrations(dir: string): Promise<LocalMigration[]> {
  if (!existsSync(dir)) {
    throw new MigrationError('INVALID_MIGRATIONS', `migrations directory ${dir} does not exist`);
  }
  await checkLockFile(dir);
  const entries = await readdir(dir, { withFileTypes: true });
  // Plain code-unit order, not localeCompare: names start with a fixed-width UTC timestamp, and
  // the order must not depend on the machine's locale.
  const names = entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const migrations: LocalMigration[] = [];
  for (const name of names) {
    const file = path.join(dir, name, 'migration.sql');
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (err) {
      throw new MigrationError('INVALID_MIGRATIONS', `migration ${name} has no readable migration.sql (${file})`, { migrationName: name }, { cause: err });
    }
    let script: string;
    try {
      script = decoder.decode(bytes);
    } catch (err) {
      throw new MigrationError('INVALID_MIGRATIONS', `migration ${name}: migration.sql is not valid UTF-8`, { migrationName: name }, { cause: err });
    }
    migrations.push({ name, script, checksum: sha256Hex(bytes), matchesChecksum: (c) => scriptMatchesChecksum(script, c) });
  }
  return migrations;
}

async function checkLockFile(dir: string): Promise<void> {
  let content: string;
  try {
    content = await readFile(path.join(dir, 'migration_lock.toml'), 'utf8');
  } catch {
    return; // Prisma treats a missing lock file as "no provider recorded".
  }
  // Same reading as prisma-engines (migrations_directory.rs): first line starting with `provider`.
  const line = content.split(/\r?\n/).find((l) => l.startsWith('provider'));
  const provider = line === undefined ? '<PROVIDER NOT FOUND>' : line.replace(/^provider = /, '').replace(/^"|"$/g, '');
  if (provider !== 'mysql') {
    throw new MigrationError(
      'INVALID_MIGRATIONS',
      `migration_lock.toml in ${dir} records provider "${provider}" but these migrations are applied to MySQL/MariaDB (Prisma's P3019)`,
    );
  }
}

function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Mirrors prisma-engines' checksum.rs: line-ending agnostic (git may rewrite LF/CRLF), and
 * accepting the un-padded hex an old engine wrote (prisma-engines#1887).
 */
function scriptMatchesChecksum(script: string, checksum: string): boolean {
  const variants = [script, script.replaceAll('\r\n', '\n'), script.replaceAll('\n', '\r\n')];
  return variants.some((variant) => {
    const digest = createHash('sha256').update(variant).digest();
    const rendered = checksum.length !== 0 && checksum.length !== 64 ? [...digest].map((b) => b.toString(16)).join('') : digest.toString('hex');
    return rendered === checksum;
  });
}

async function connect(url: DatabaseUrl): Promise<mariadb.Connection> {
  try {
    return await mariadb.createConnection({
      host: url.host,
      port: url.port,
      user: url.user,
      password: url.password,
      // Whole scripts in one query, as the engine sends them.
      multipleStatements: true,
      // DATETIME columns come back as the stored UTC text, not reinterpreted in local time.
      dateStrings: true,
      connectTimeout: url.connectTimeoutMs ?? 5_000,
    });
  } catch (err) {
    const code = driverCode(err);
    throw new MigrationError(
      'CONNECTION_FAILED',
      `cannot connect to MySQL/MariaDB at ${url.server}: ${err instanceof Error ? err.message : String(err)}`,
      { server: url.server, ...(code === undefined ? {} : { databaseErrorCode: code }) },
      { cause: err },
    );
  }
}

function driverCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

async function acquireLock(conn: mariadb.Connection, timeoutSeconds: number, url: DatabaseUrl): Promise<void> {
  // The engine ignores GET_LOCK's result after its 10 s and proceeds anyway; we refuse instead,
  // because two runners applying the same DDL is exactly what the lock is for.
  const rows: Array<{ acquired: unknown }> = await conn.query('SELECT GET_LOCK(?, ?) AS acquired', [LOCK_NAME, timeoutSeconds]);
  if (Number(rows[0]?.acquired) !== 1) {
    throw new MigrationError(
      'LOCK_TIMEOUT',
      `another migration run on ${url.server} held the "${LOCK_NAME}" lock for more than ${timeoutSeconds}s; try again when it has finished`,
      { server: url.server },
    );
  }
}

async function ensureDatabase(conn: mariadb.Connection, database: string, logger: MigrateLogger): Promise<void> {
  const rows: unknown[] = await conn.query('SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [database]);
  if (rows.length > 0) return;
  // Same statement as the engine's create_database; IF NOT EXISTS in case someone without our lock raced us.
  await conn.query(`CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(database)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  logger.info({ database }, `created database ${database}`);
}

async function ensureMigrationsTable(conn: mariadb.Connection, database: string, logger: MigrateLogger): Promise<void> {
  const rows: Array<{ name: string }> = await conn.query(
    "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'",
    [database],
  );
  const names = rows.map((row) => row.name);
  if (names.includes(MIGRATIONS_TABLE)) return;
  if (names.length > 0) {
    throw new MigrationError(
      'DATABASE_NOT_EMPTY',
      `database ${database} has tables (${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''}) but no ${MIGRATIONS_TABLE}: ` +
        `refusing to apply migrations over a schema of unknown origin (Prisma's P3005). Baseline it ` +
        `(https://pris.ly/d/migrate-baseline) or use an empty database.`,
    );
  }
  await conn.query(CREATE_MIGRATIONS_TABLE);
  logger.info({ database }, `created ${MIGRATIONS_TABLE}`);
}

async function loadHistory(conn: mariadb.Connection): Promise<HistoryRow[]> {
  const rows: HistoryRow[] = await conn.query(
    `SELECT id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count
       FROM ${MIGRATIONS_TABLE} ORDER BY started_at, migration_name`,
  );
  return rows;
}

function detectFailedMigrations(history: HistoryRow[]): void {
  const failed = history.filter((row) => row.finished_at === null && row.rolled_back_at === null);
  if (failed.length === 0) return;
  // Wording follows the engine's P3009 so people can search for it.
  const details = failed
    .map((row) => {
      const logs = row.logs?.trim();
      return `The \`${row.migration_name}\` migration started at ${row.started_at} UTC failed${logs ? ` with the following logs:\n${logs}` : ''}`;
    })
    .join('\n');
  const first = failed[0]!.migration_name;
  throw new MigrationError(
    'FAILED_MIGRATION_FOUND',
    `migrate found failed migrations in the target database, new migrations will not be applied. ` +
      `Read more about how to resolve migration issues in a production database: ${RESOLVE_DOCS}\n${details}\n\n` +
      `To recover: repair the database by hand (MySQL DDL is not transactional, so statements before the failing one stayed applied), ` +
      `then mark the migration rolled back, either with \`npx prisma migrate resolve --rolled-back ${first}\` where the schema engine is available ` +
      `or with \`UPDATE ${MIGRATIONS_TABLE} SET rolled_back_at = UTC_TIMESTAMP(3) WHERE migration_name = '${first}' AND finished_at IS NULL\`, ` +
      `and run the migrations again.`,
    { migrationName: first },
  );
}

function checkAppliedMigrations(local: LocalMigration[], history: HistoryRow[]): string[] {
  const warnings: string[] = [];
  const applied = history.filter((row) => row.finished_at !== null && row.rolled_back_at === null);
  for (const row of applied) {
    const migration = local.find((m) => m.name === row.migration_name);
    if (migration === undefined) {
      warnings.push(`migration ${row.migration_name} is applied in the database but missing from the migrations directory`);
    } else if (!migration.matchesChecksum(row.checksum)) {
      warnings.push(
        `migration ${row.migration_name} was modified after it was applied (checksum ${row.checksum} in the database, ${migration.checksum} on disk); ` +
          `the database keeps the old version: put a new migration on top instead of editing an applied one`,
      );
    }
  }
  return warnings;
}

async function applyMigration(conn: mariadb.Connection, migration: LocalMigration, database: string, logger: MigrateLogger): Promise<void> {
  const id = randomUUID();
  // UTC_TIMESTAMP, not a JS Date: the engine stores UTC, and the driver would convert a Date to local time.
  await conn.query(`INSERT INTO ${MIGRATIONS_TABLE} (id, checksum, started_at, migration_name) VALUES (?, ?, UTC_TIMESTAMP(3), ?)`, [
    id,
    migration.checksum,
    migration.name,
  ]);
  logger.info({ database, migration: migration.name }, `applying migration ${migration.name}`);
  try {
    // No parameters: the driver sends the text untouched, so `?` inside the SQL is not a placeholder.
    // An empty script is a valid (no-op) migration, but the server rejects an empty query.
    if (migration.script.trim() !== '') await conn.query(migration.script);
  } catch (err) {
    const sqlError = describeSqlError(err);
    const logs =
      `A migration failed to apply. New migrations cannot be applied before the error is recovered from. ` +
      `Read more about how to resolve migration issues in a production database: ${RESOLVE_DOCS}\n\n` +
      `Migration name: ${migration.name}\n\nDatabase error code: ${sqlError.code}\n\nDatabase error:\n${sqlError.message}\n`;
    await conn.query(`UPDATE ${MIGRATIONS_TABLE} SET logs = ? WHERE id = ?`, [logs, id]);
    logger.error({ database, migration: migration.name, errorCode: sqlError.code, error: sqlError.message }, `migration ${migration.name} failed`);
    throw new MigrationError(
      'MIGRATION_FAILED',
      `${logs}\nStatements before the failing one stayed applied (MySQL DDL is not transactional); the migration is recorded as failed and blocks later runs until resolved.`,
      { migrationName: migration.name, databaseErrorCode: sqlError.code, databaseError: sqlError.message },
      { cause: err },
    );
  }
  // Two updates, as the engine does (record_successful_step, then record_migration_finished).
  await conn.query(`UPDATE ${MIGRATIONS_TABLE} SET applied_steps_count = applied_steps_count + 1 WHERE id = ?`, [id]);
  await conn.query(`UPDATE ${MIGRATIONS_TABLE} SET finished_at = UTC_TIMESTAMP(3) WHERE id = ?`, [id]);
  logger.info({ database, migration: migration.name }, `applied migration ${migration.name}`);
}

function describeSqlError(err: unknown): { code: string; message: string } {
  if (typeof err === 'object' && err !== null) {
    const e = err as { errno?: unknown; sqlMessage?: unknown; code?: unknown; message?: unknown };
    // errno is the server's number when the server answered; the driver's own errors have codes like ER_SOCKET_UNEXPECTED_CLOSE.
    const code = typeof e.errno === 'number' && e.errno > 0 && e.errno < 10_000 ? String(e.errno) : typeof e.code === 'string' ? e.code : 'none';
    const message = typeof e.sqlMessage === 'string' ? e.sqlMessage : typeof e.message === 'string' ? e.message : inspect(err);
    return { code, message };
  }
  return { code: 'none', message: String(err) };
}
