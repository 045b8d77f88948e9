import { loadConfigOrExit } from '../config/env.js';
import { migrate, MigrationError } from '../infra/db/migrate.js';
import { createLogger } from '../infra/logger.js';

/**
 * `npm run db:migrate`: applies prisma/migrations to DATABASE_URL (creating the database if
 * needed). Exit code 0 when the schema is up to date, 1 otherwise, with the reason on stderr.
 */

// How MariaDB is started on a Debian machine without systemd; the hint is for people running the
// project on their own machine.
const START_MARIADB = 'start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger('migrate', config.logLevel);
  try {
    const result = await migrate({ databaseUrl: config.databaseUrl, logger });
    for (const warning of result.warnings) process.stderr.write(`warning: ${warning}\n`);
    if (result.applied.length === 0) {
      process.stdout.write(`Database is up to date (${result.alreadyApplied.length} migration(s) already applied).\n`);
    } else {
      process.stdout.write(`Applied ${result.applied.length} migration(s):\n${result.applied.map((name) => `  ${name}\n`).join('')}`);
    }
  } catch (err) {
    process.stderr.write(`${describeFailure(err)}\n`);
    process.exitCode = 1;
  }
}

function describeFailure(err: unknown): string {
  if (!(err instanceof MigrationError)) {
    return `db:migrate failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
  }
  if (err.code === 'CONNECTION_FAILED') {
    const refused = err.details.databaseErrorCode === 'ECONNREFUSED';
    const server = err.details.server ?? 'the configured address';
    return refused
      ? `db:migrate: connection refused: is MariaDB running at ${server}? Start it with \`${START_MARIADB}\` (or point DATABASE_URL at a running server).`
      : `db:migrate: ${err.message}\nCheck DATABASE_URL (host, port, user, password).`;
  }
  return `db:migrate failed (${err.code}): ${err.message}`;
}

await main();
