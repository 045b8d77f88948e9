import type * as mariadb from 'mariadb';
import type { DmmfDatamodel, DmmfEnum, DmmfField, DmmfModel } from './prisma-dmmf.js';

/**
 * Compares Prisma's data model (DMMF) with a database's information_schema, the way Prisma's
 * MySQL connector would lay the model out: @map/@@map names, Prisma's default native types,
 * its default constraint names, ENUM columns, RESTRICT/CASCADE foreign keys, utf8mb4_unicode_ci.
 * Returns one line per difference, so a failing test says everything that is off at once.
 *
 * Anything the model uses that this file does not know (a native type, a default kind) is
 * reported as a problem rather than skipped, so the check never passes by ignoring a field.
 */

export interface ColumnInfo {
  dataType: string;
  columnType: string;
  nullable: boolean;
  default: string | null;
  extra: string;
  charMaxLength: number | null;
  datetimePrecision: number | null;
}

export interface IndexInfo {
  unique: boolean;
  type: string;
  columns: string[];
}

export interface ForeignKeyInfo {
  columns: string[];
  referencedTable: string;
  referencedColumns: string[];
  onDelete: string;
  onUpdate: string;
}

export interface TableInfo {
  collation: string;
  columns: Map<string, ColumnInfo>;
  indexes: Map<string, IndexInfo>;
  foreignKeys: Map<string, ForeignKeyInfo>;
  checks: string[];
}

export type DatabaseSnapshot = Map<string, TableInfo>;

// Row shapes of the information_schema queries below.
interface TableRow {
  TABLE_NAME: string;
  TABLE_COLLATION: string;
}
interface ColumnRow {
  TABLE_NAME: string;
  COLUMN_NAME: string;
  DATA_TYPE: string;
  COLUMN_TYPE: string;
  IS_NULLABLE: string;
  COLUMN_DEFAULT: string | null;
  EXTRA: string;
  CHARACTER_MAXIMUM_LENGTH: number | null;
  DATETIME_PRECISION: number | null;
}
interface IndexRow {
  TABLE_NAME: string;
  INDEX_NAME: string;
  NON_UNIQUE: number;
  INDEX_TYPE: string;
  COLUMN_NAME: string;
}
interface FkRow {
  TABLE_NAME: string;
  CONSTRAINT_NAME: string;
  REFERENCED_TABLE_NAME: string;
  UPDATE_RULE: string;
  DELETE_RULE: string;
}
interface FkColumnRow {
  TABLE_NAME: string;
  CONSTRAINT_NAME: string;
  COLUMN_NAME: string;
  REFERENCED_COLUMN_NAME: string;
}
interface CheckRow {
  TABLE_NAME: string;
  CHECK_CLAUSE: string;
}

export async function readDatabaseSnapshot(conn: mariadb.Connection, database: string): Promise<DatabaseSnapshot> {
  const snapshot: DatabaseSnapshot = new Map();
  const tables: TableRow[] = await conn.query(
    "SELECT TABLE_NAME, TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'",
    [database],
  );
  for (const t of tables) {
    snapshot.set(t.TABLE_NAME, { collation: t.TABLE_COLLATION, columns: new Map(), indexes: new Map(), foreignKeys: new Map(), checks: [] });
  }
  const table = (name: string) => snapshot.get(name)!;

  const columns: ColumnRow[] = await conn.query(
    `SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, CHARACTER_MAXIMUM_LENGTH, DATETIME_PRECISION
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, ORDINAL_POSITION`,
    [database],
  );
  for (const c of columns) {
    table(c.TABLE_NAME).columns.set(c.COLUMN_NAME, {
      dataType: c.DATA_TYPE.toLowerCase(),
      // Not lower-cased: ENUM values in it are case-sensitive.
      columnType: c.COLUMN_TYPE,
      nullable: c.IS_NULLABLE === 'YES',
      default: c.COLUMN_DEFAULT,
      extra: c.EXTRA.toLowerCase(),
      charMaxLength: c.CHARACTER_MAXIMUM_LENGTH === null ? null : Number(c.CHARACTER_MAXIMUM_LENGTH),
      datetimePrecision: c.DATETIME_PRECISION === null ? null : Number(c.DATETIME_PRECISION),
    });
  }

  const indexRows: IndexRow[] = await conn.query(
    `SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, INDEX_TYPE, COLUMN_NAME
       FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
    [database],
  );
  for (const i of indexRows) {
    const indexes = table(i.TABLE_NAME).indexes;
    const index = indexes.get(i.INDEX_NAME) ?? { unique: Number(i.NON_UNIQUE) === 0, type: i.INDEX_TYPE, columns: [] };
    index.columns.push(i.COLUMN_NAME);
    indexes.set(i.INDEX_NAME, index);
  }

  const fks: FkRow[] = await conn.query(
    `SELECT TABLE_NAME, CONSTRAINT_NAME, REFERENCED_TABLE_NAME, UPDATE_RULE, DELETE_RULE
       FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ?`,
    [database],
  );
  for (const fk of fks) {
    table(fk.TABLE_NAME).foreignKeys.set(fk.CONSTRAINT_NAME, {
      columns: [],
      referencedTable: fk.REFERENCED_TABLE_NAME,
      referencedColumns: [],
      onDelete: fk.DELETE_RULE,
      onUpdate: fk.UPDATE_RULE,
    });
  }
  const fkColumns: FkColumnRow[] = await conn.query(
    `SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_COLUMN_NAME
       FROM information_schema.KEY_COLUMN_USAGE
      WHERE TABLE_SCHEMA = ? AND REFERENCED_TABLE_NAME IS NOT NULL
      ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION`,
    [database],
  );
  for (const c of fkColumns) {
    const fk = table(c.TABLE_NAME).foreignKeys.get(c.CONSTRAINT_NAME);
    fk?.columns.push(c.COLUMN_NAME);
    fk?.referencedColumns.push(c.REFERENCED_COLUMN_NAME);
  }

  const checks: CheckRow[] = await conn.query('SELECT TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ?', [
    database,
  ]);
  for (const c of checks) table(c.TABLE_NAME).checks.push(c.CHECK_CLAUSE);
  return snapshot;
}

/** MySQL's identifier limit, which Prisma's default constraint names are truncated to. */
const MAX_IDENTIFIER_LENGTH = 64;

/**
 * Prisma's default names (psl ConstraintNames): `{table}_{columns}_{suffix}`, the prefix cut so
 * the whole stays within the identifier limit.
 */
export function defaultConstraintName(table: string, columns: string[], suffix: 'key' | 'idx' | 'fkey'): string {
  const joined = `${table}_${columns.join('_')}`;
  const room = MAX_IDENTIFIER_LENGTH - suffix.length - 1;
  return `${joined.length >= room ? joined.slice(0, room) : joined}_${suffix}`;
}

const tableName = (model: DmmfModel) => model.dbName ?? model.name;
const columnName = (field: DmmfField) => field.dbName ?? field.name;
const isColumn = (field: DmmfField) => field.kind === 'scalar' || field.kind === 'enum';

/** Every difference between `datamodel` and the database; empty when they describe the same schema. */
export function schemaProblems(datamodel: DmmfDatamodel, db: DatabaseSnapshot): string[] {
  const problems: string[] = [];
  const expectedTables = new Set(datamodel.models.map(tableName));
  for (const name of db.keys()) {
    if (name !== '_prisma_migrations' && !expectedTables.has(name)) problems.push(`table ${name} exists in the database but no model maps to it`);
  }
  for (const model of datamodel.models) {
    const table = db.get(tableName(model));
    if (table === undefined) {
      problems.push(`model ${model.name}: table ${tableName(model)} is missing`);
      continue;
    }
    problems.push(...tableProblems(model, table, datamodel));
  }
  return problems;
}

function tableProblems(model: DmmfModel, table: TableInfo, datamodel: DmmfDatamodel): string[] {
  const problems: string[] = [];
  const where = `model ${model.name} (${tableName(model)})`;
  if (table.collation !== 'utf8mb4_unicode_ci') problems.push(`${where}: collation is ${table.collation}, Prisma creates utf8mb4_unicode_ci`);

  const fields = model.fields.filter(isColumn);
  const byName = new Map(model.fields.map((f) => [f.name, f]));
  const columnsOf = (names: string[]) => names.map((n) => columnName(byName.get(n)!));
  for (const field of fields) {
    const column = table.columns.get(columnName(field));
    if (column === undefined) {
      problems.push(`${where}: column ${columnName(field)} (field ${field.name}) is missing`);
      continue;
    }
    problems.push(...columnProblems(`${where}.${field.name}`, field, column, table, datamodel.enums));
  }
  const expectedColumns = new Set(fields.map(columnName));
  for (const name of table.columns.keys()) {
    if (!expectedColumns.has(name)) problems.push(`${where}: column ${name} exists but no field maps to it`);
  }

  // Indexes: the primary key plus every @unique, @@unique and @@index, with Prisma's names.
  const expectedIndexes = new Map<string, IndexInfo>();
  for (const index of datamodel.indexes.filter((i) => i.model === model.name)) {
    const columns = columnsOf(index.fields.map((f) => f.name));
    switch (index.type) {
      case 'id':
        expectedIndexes.set('PRIMARY', { unique: true, type: 'BTREE', columns });
        break;
      case 'unique':
        expectedIndexes.set(index.dbName ?? defaultConstraintName(tableName(model), columns, 'key'), { unique: true, type: 'BTREE', columns });
        break;
      case 'normal':
        expectedIndexes.set(index.dbName ?? defaultConstraintName(tableName(model), columns, 'idx'), { unique: false, type: 'BTREE', columns });
        break;
      case 'fulltext':
        expectedIndexes.set(index.dbName ?? defaultConstraintName(tableName(model), columns, 'idx'), { unique: false, type: 'FULLTEXT', columns });
        break;
    }
  }
  for (const [name, expected] of expectedIndexes) {
    const actual = table.indexes.get(name);
    if (actual === undefined) {
      problems.push(`${where}: index ${name} (${expected.unique ? 'unique ' : ''}${expected.columns.join(', ')}) is missing`);
    } else if (actual.unique !== expected.unique || actual.type !== expected.type || actual.columns.join() !== expected.columns.join()) {
      problems.push(`${where}: index ${name} is ${describeIndex(actual)}, expected ${describeIndex(expected)}`);
    }
  }

  // Foreign keys of the relation fields that hold the reference (`@relation(fields: …)`).
  const expectedFks = new Map<string, ForeignKeyInfo>();
  for (const field of model.fields.filter((f) => f.kind === 'object' && (f.relationFromFields?.length ?? 0) > 0)) {
    const target = datamodel.models.find((m) => m.name === field.type)!;
    const targetFields = new Map(target.fields.map((f) => [f.name, f]));
    const columns = columnsOf(field.relationFromFields!);
    const allRequired = field.relationFromFields!.every((n) => byName.get(n)!.isRequired);
    // Prisma's defaults with foreign keys: Restrict for required relations, SetNull for optional ones; updates cascade.
    expectedFks.set(defaultConstraintName(tableName(model), columns, 'fkey'), {
      columns,
      referencedTable: tableName(target),
      referencedColumns: field.relationToFields!.map((n) => columnName(targetFields.get(n)!)),
      onDelete: referentialAction(field.relationOnDelete ?? (allRequired ? 'Restrict' : 'SetNull')),
      onUpdate: referentialAction(field.relationOnUpdate ?? 'Cascade'),
    });
  }
  for (const [name, expected] of expectedFks) {
    const actual = table.foreignKeys.get(name);
    if (actual === undefined) problems.push(`${where}: foreign key ${name} is missing`);
    else if (JSON.stringify(actual) !== JSON.stringify(expected)) {
      problems.push(`${where}: foreign key ${name} is ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
    }
  }
  for (const name of table.foreignKeys.keys()) {
    if (!expectedFks.has(name)) problems.push(`${where}: foreign key ${name} exists but no relation declares it`);
  }
  for (const name of table.indexes.keys()) {
    // MySQL adds an index named after a foreign key when no index starts with its columns;
    // Prisma ignores those, so do we.
    if (!expectedIndexes.has(name) && !expectedFks.has(name)) problems.push(`${where}: index ${name} exists but the model does not declare it`);
  }
  return problems;
}

function describeIndex(index: IndexInfo): string {
  return `${index.type}${index.unique ? ' unique' : ''} (${index.columns.join(', ')})`;
}

function referentialAction(action: string): string {
  const sql: Record<string, string> = { Cascade: 'CASCADE', Restrict: 'RESTRICT', NoAction: 'NO ACTION', SetNull: 'SET NULL', SetDefault: 'SET DEFAULT' };
  return sql[action] ?? `unknown referential action ${action}`;
}

interface ExpectedType {
  dataType: string;
  /** Full COLUMN_TYPE when the data type alone is not enough (enums, tinyint(1)). */
  columnType?: string;
  charMaxLength?: number;
  datetimePrecision?: number;
}

/** Prisma's MySQL type for a field: its @db attribute, else the scalar's default native type. */
function expectedType(field: DmmfField, enums: DmmfEnum[]): ExpectedType | string {
  if (field.kind === 'enum') {
    const e = enums.find((candidate) => candidate.name === field.type);
    if (e === undefined) return `enum ${field.type} not found in the data model`;
    return { dataType: 'enum', columnType: `enum(${e.values.map((v) => `'${(v.dbName ?? v.name).replaceAll("'", "''")}'`).join(',')})` };
  }
  const [native, args] = field.nativeType ?? [undefined, []];
  const arg = (i: number) => Number(args[i]);
  switch (`${field.type}:${native ?? ''}`) {
    case 'String:':
      return { dataType: 'varchar', charMaxLength: 191 };
    case 'String:VarChar':
      return { dataType: 'varchar', charMaxLength: arg(0) };
    case 'String:Char':
      return { dataType: 'char', charMaxLength: arg(0) };
    case 'String:Text':
      return { dataType: 'text' };
    case 'Int:':
      return { dataType: 'int' };
    case 'BigInt:':
      return { dataType: 'bigint' };
    case 'Boolean:':
      return { dataType: 'tinyint', columnType: 'tinyint(1)' };
    case 'Float:':
      return { dataType: 'double' };
    case 'DateTime:':
      return { dataType: 'datetime', datetimePrecision: 3 };
    case 'DateTime:DateTime':
      return { dataType: 'datetime', datetimePrecision: args.length ? arg(0) : 0 };
    case 'DateTime:Timestamp':
      return { dataType: 'timestamp', datetimePrecision: args.length ? arg(0) : 0 };
    case 'Json:':
      return { dataType: 'json' };
    default:
      return `${field.type} @db.${native ?? ''}(${args.join(', ')}) is not known to test/db/schema-compare.ts: teach it the type`;
  }
}

function columnProblems(where: string, field: DmmfField, column: ColumnInfo, table: TableInfo, enums: DmmfEnum[]): string[] {
  const problems: string[] = [];
  const expected = expectedType(field, enums);
  if (typeof expected === 'string') return [`${where}: ${expected}`];

  // MariaDB implements JSON as LONGTEXT plus a json_valid() CHECK; MySQL has a real JSON type.
  const isMariaDbJson =
    expected.dataType === 'json' && column.dataType === 'longtext' && table.checks.some((c) => c.replaceAll('`', '') === `json_valid(${columnName(field)})`);
  if (column.dataType !== expected.dataType && !isMariaDbJson) problems.push(`${where}: type is ${column.columnType}, expected ${expected.dataType}`);
  const columnType = expected.dataType === 'enum' ? column.columnType : column.columnType.toLowerCase();
  if (expected.columnType !== undefined && columnType !== expected.columnType) {
    problems.push(`${where}: column type is ${column.columnType}, expected ${expected.columnType}`);
  }
  if (expected.charMaxLength !== undefined && column.charMaxLength !== expected.charMaxLength) {
    problems.push(`${where}: length is ${column.charMaxLength}, expected ${expected.charMaxLength}`);
  }
  if (expected.datetimePrecision !== undefined && column.datetimePrecision !== expected.datetimePrecision) {
    problems.push(`${where}: precision is ${column.datetimePrecision}, expected ${expected.datetimePrecision}`);
  }
  if (column.nullable === field.isRequired) {
    problems.push(`${where}: column is ${column.nullable ? 'NULL' : 'NOT NULL'} but the field is ${field.isRequired ? 'required' : 'optional'}`);
  }
  problems.push(...defaultProblems(where, field, column, expected));
  return problems;
}

function defaultProblems(where: string, field: DmmfField, column: ColumnInfo, expected: ExpectedType): string[] {
  const autoIncrement = column.extra.includes('auto_increment');
  // MariaDB reports "no default" on a nullable column as the string 'NULL'.
  const actual = column.default === null || column.default === 'NULL' ? null : column.default.replace(/^'(.*)'$/s, '$1').toLowerCase();
  const d = field.default;
  if (d !== null && typeof d === 'object' && 'name' in d) {
    if (d.name === 'autoincrement') return autoIncrement ? [] : [`${where}: @default(autoincrement()) but the column is not AUTO_INCREMENT`];
    if (d.name === 'now') {
      const want = `current_timestamp(${expected.datetimePrecision ?? 3})`;
      return actual === want ? [] : [`${where}: default is ${column.default}, expected ${want}`];
    }
    return [`${where}: @default(${String(d.name)}()) is not known to test/db/schema-compare.ts`];
  }
  const problems = autoIncrement ? [`${where}: column is AUTO_INCREMENT but the field has no @default(autoincrement())`] : [];
  if (d === undefined) {
    if (actual !== null) problems.push(`${where}: column has default ${column.default} but the field has none`);
  } else if (typeof d === 'string' || typeof d === 'number' || typeof d === 'boolean') {
    const want = typeof d === 'boolean' ? (d ? '1' : '0') : String(d).toLowerCase();
    if (actual !== want) problems.push(`${where}: default is ${column.default}, expected ${String(d)}`);
  } else {
    problems.push(`${where}: default ${JSON.stringify(d)} is not known to test/db/schema-compare.ts`);
  }
  return problems;
}
