/**
 * One reading of DATABASE_URL for both users of the `mariadb` driver here (the migration runner
 * and the Prisma adapter's pool), so the two never disagree about host, credentials or database.
 *
 * Accepts Prisma's `mysql://` form as well as the driver's own `mariadb://`, and Prisma's pool
 * parameters (`connection_limit`, `connect_timeout`, `pool_timeout`, the last two in seconds), so
 * a URL written for Prisma's docs behaves the same here.
 */

export interface DatabaseUrl {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string | undefined;
  /** Undefined when the URL names no database (`mysql://root@127.0.0.1:3306`). */
  readonly database: string | undefined;
  readonly connectionLimit: number | undefined;
  readonly connectTimeoutMs: number | undefined;
  readonly poolTimeoutMs: number | undefined;
  /** `host:port`, for messages; never includes credentials. */
  readonly server: string;
}

export class DatabaseUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseUrlError';
  }
}

const DEFAULT_PORT = 3306;

export function parseDatabaseUrl(raw: string): DatabaseUrl {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new DatabaseUrlError('database URL is not a valid URL (expected mysql://user:password@host:port/database)');
  }
  if (url.protocol !== 'mysql:' && url.protocol !== 'mariadb:') {
    throw new DatabaseUrlError(`database URL must start with mysql:// or mariadb://, got ${url.protocol}//`);
  }
  // WHATWG URL keeps IPv6 literals bracketed; the driver wants the bare address.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  const port = url.port === '' ? DEFAULT_PORT : Number(url.port);
  const path = decodeURIComponent(url.pathname.replace(/^\//, ''));
  const seconds = (name: string) => {
    const value = url.searchParams.get(name);
    if (value === null) return undefined;
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0) throw new DatabaseUrlError(`database URL parameter ${name} must be a non-negative number`);
    return Math.round(n * 1000);
  };
  const limit = url.searchParams.get('connection_limit');
  const connectionLimit = limit === null ? undefined : Number(limit);
  if (connectionLimit !== undefined && (!Number.isInteger(connectionLimit) || connectionLimit < 1)) {
    throw new DatabaseUrlError('database URL parameter connection_limit must be a positive integer');
  }
  return {
    host,
    port,
    user: decodeURIComponent(url.username) || 'root',
    password: url.password === '' ? undefined : decodeURIComponent(url.password),
    database: path === '' ? undefined : path,
    connectionLimit,
    connectTimeoutMs: seconds('connect_timeout'),
    poolTimeoutMs: seconds('pool_timeout'),
    server: `${url.hostname}:${port}`,
  };
}

/** The same URL pointing at another database (used by tests and the migration runner). */
export function withDatabase(raw: string, database: string): string {
  const url = new URL(raw);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

/** Backtick-quote an identifier for MySQL/MariaDB (database and table names cannot be bound). */
export function quoteIdentifier(name: string): string {
  return `\`${name.replaceAll('`', '``')}\``;
}
