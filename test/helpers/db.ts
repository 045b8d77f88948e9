import { randomBytes } from 'node:crypto';
import * as mariadb from 'mariadb';
import { parseDatabaseUrl, quoteIdentifier, withDatabase } from '../../src/infra/db/connection-url.js';
import { migrate } from '../../src/infra/db/migrate.js';
import { closePrisma, createPrisma, type PrismaClient } from '../../src/infra/db/prisma.js';

/** The server tests create their databases on; a database in this URL, if any, is ignored. */
export const TEST_SERVER_URL = process.env.TEST_DATABASE_URL ?? 'mysql://root@127.0.0.1:3306';

export interface TestDatabase {
  /** DATABASE_URL of the new database. */
  url: string;
  name: string;
  prisma: PrismaClient;
  /** Closes `prisma` and drops the database. */
  drop(): Promise<void>;
}

/** A name no other test file (or earlier run) uses; the prefix lets a person clean up leftovers. */
export function uniqueDatabaseName(): string {
  return `seckill_t_${randomBytes(6).toString('hex')}`;
}

/** A fresh database with every migration applied, for one test file (on `serverUrl`, default the shared server). */
export async function createTestDatabase(serverUrl = TEST_SERVER_URL): Promise<TestDatabase> {
  const name = uniqueDatabaseName();
  const url = withDatabase(serverUrl, name);
  await migrate({ databaseUrl: url });
  const prisma = createPrisma(url);
  let dropped: Promise<void> | undefined;
  return {
    url,
    name,
    prisma,
    drop() {
      dropped ??= (async () => {
        await closePrisma(prisma);
        await dropDatabase(name, serverUrl);
      })();
      return dropped;
    },
  };
}

/** A connection to the test server without a default database (for information_schema checks). */
export async function connectToTestServer(serverUrl = TEST_SERVER_URL): Promise<mariadb.Connection> {
  const server = parseDatabaseUrl(serverUrl);
  return mariadb.createConnection({
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    dateStrings: true,
    // information_schema counts and BIGINT ids as plain numbers; tests compare them with literals.
    bigIntAsNumber: true,
  });
}

export async function dropDatabase(name: string, serverUrl = TEST_SERVER_URL): Promise<void> {
  const conn = await connectToTestServer(serverUrl);
  try {
    await conn.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)}`);
  } finally {
    await conn.end();
  }
}
