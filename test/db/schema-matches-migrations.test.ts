import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as mariadb from 'mariadb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withDatabase } from '../../src/infra/db/connection-url.js';
import { migrate } from '../../src/infra/db/migrate.js';
import { connectToTestServer, dropDatabase, TEST_SERVER_URL, uniqueDatabaseName } from '../helpers/db.js';
import { loadDmmf, type DmmfDatamodel } from './prisma-dmmf.js';
import { readDatabaseSnapshot, schemaProblems, type DatabaseSnapshot } from './schema-compare.js';

/**
 * The hand-written migrations and schema.prisma must describe the same database: the schema
 * engine that would normally generate (and check) the SQL cannot run here. A fresh database
 * migrated by our runner is compared with Prisma's own reading of the schema (its DMMF).
 */

const schemaPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../prisma/schema.prisma');
const datamodel = loadDmmf(schemaPath);

let conn: mariadb.Connection;
let database: string;
let snapshot: DatabaseSnapshot;

beforeAll(async () => {
  database = uniqueDatabaseName();
  await migrate({ databaseUrl: withDatabase(TEST_SERVER_URL, database) });
  conn = await connectToTestServer();
  snapshot = await readDatabaseSnapshot(conn, database);
});

afterAll(async () => {
  await conn?.end();
  if (database) await dropDatabase(database);
});

describe('migrations vs schema.prisma', () => {
  it('reads the data model through Prisma (not an empty or partial parse)', () => {
    expect(datamodel.models.map((m) => m.name).sort()).toEqual(['PaymentEvent', 'Reconciliation', 'ReconciliationDifference', 'ReviewItem', 'SeckillGoods', 'SeckillOrder']);
    expect(datamodel.enums.length).toBeGreaterThan(0);
    expect(datamodel.indexes.length).toBeGreaterThan(0);
  });

  it('creates exactly the tables, columns, keys, indexes and foreign keys of the data model', () => {
    expect(schemaProblems(datamodel, snapshot)).toEqual([]);
  });

  it('stores every enum as an ENUM column with the same values in the same order', () => {
    const checked: string[] = [];
    for (const model of datamodel.models) {
      for (const field of model.fields.filter((f) => f.kind === 'enum')) {
        const values = datamodel.enums.find((e) => e.name === field.type)!.values.map((v) => v.dbName ?? v.name);
        const column = snapshot.get(model.dbName ?? model.name)!.columns.get(field.dbName ?? field.name)!;
        expect(column.columnType, `${model.name}.${field.name}`).toBe(`enum(${values.map((v) => `'${v}'`).join(',')})`);
        checked.push(field.type);
      }
    }
    // Every enum of the schema is used by some column, so every enum was compared.
    expect(new Set(checked)).toEqual(new Set(datamodel.enums.map((e) => e.name)));
  });

  // The comparison must be able to fail: each mutation of the model is a drift it has to see.
  it.each<[string, (m: DmmfDatamodel) => void, RegExp]>([
    ['a longer VARCHAR', (m) => void (field(m, 'SeckillGoods', 'title').nativeType = ['VarChar', ['201']]), /title: length is 200, expected 201/],
    ['a field made optional', (m) => void (field(m, 'SeckillOrder', 'userId').isRequired = false), /userId: column is NOT NULL/],
    ['a renamed column', (m) => void (field(m, 'PaymentEvent', 'totalFee').dbName = 'fee_total'), /column fee_total .* is missing/],
    ['a new enum value', (m) => void m.enums.find((e) => e.name === 'OrderStatus')!.values.push({ name: 'REFUNDED', dbName: null }), /status: column type is enum/],
    ['a dropped index', (m) => void (m.indexes = m.indexes.filter((i) => !(i.model === 'SeckillOrder' && i.fields[0]!.name === 'userId'))), /tb_seckill_order_user_id_idx exists but/],
    ['a different default', (m) => void (field(m, 'ReviewItem', 'status').default = 'RESOLVED'), /status: default is 'OPEN', expected RESOLVED/],
    ['a cascading delete', (m) => void (field(m, 'PaymentEvent', 'order').relationOnDelete = 'Cascade'), /tb_payment_event_order_id_fkey is/],
  ])('detects %s', (_name, mutate, expected) => {
    const mutated = structuredClone(datamodel);
    mutate(mutated);
    expect(schemaProblems(mutated, snapshot).join('\n')).toMatch(expected);
  });
});

function field(m: DmmfDatamodel, model: string, name: string) {
  return m.models.find((x) => x.name === model)!.fields.find((f) => f.name === name)!;
}
