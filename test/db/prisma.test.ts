import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closePrisma, createPrisma } from '../../src/infra/db/prisma.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

/** The generated client, through the MariaDB adapter, against a database built by our migrations. */

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.drop();
});

describe('createPrisma', () => {
  it('writes and reads a goods row (BigInt id, DateTime(3) to the millisecond, defaults)', async () => {
    const startTime = new Date('2026-11-11T00:00:00.123Z');
    const endTime = new Date('2026-11-11T02:00:00.456Z');
    const created = await db.prisma.seckillGoods.create({
      data: { title: 'iPhone 秒杀', price: 599_900, costPrice: 799_900, stockCount: 100, startTime, endTime },
    });
    expect(typeof created.id).toBe('bigint');

    const read = await db.prisma.seckillGoods.findUniqueOrThrow({ where: { id: created.id } });
    expect(read).toMatchObject({ title: 'iPhone 秒杀', price: 599_900, costPrice: 799_900, stockCount: 100, startTime, endTime });
    expect(read.createdAt).toBeInstanceOf(Date);
    expect(read.updatedAt).toBeInstanceOf(Date);
  });

  it('round-trips enums, a relation and a Json payload (LONGTEXT on MariaDB)', async () => {
    const goods = await db.prisma.seckillGoods.create({
      data: { title: 'g', price: 1, stockCount: 1, startTime: new Date(), endTime: new Date(Date.now() + 60_000) },
    });
    const now = new Date();
    const payload = { out_trade_no: '1001', total_fee: '1', nested: { ok: true } };
    await db.prisma.seckillOrder.create({
      data: {
        id: '1001',
        goodsId: goods.id,
        userId: 'u1',
        money: 1,
        status: 'PAID',
        createTime: now,
        deadline: now,
        payTime: now,
        transactionId: 'wx1001',
        payments: { create: { transactionId: 'wx1001', totalFee: 1, resultCode: 'SUCCESS', payload } },
        reviews: { create: { kind: 'PAID_AFTER_CLOSE', reason: 'test' } },
      },
    });

    const order = await db.prisma.seckillOrder.findUniqueOrThrow({ where: { id: '1001' }, include: { payments: true, reviews: true } });
    expect(order.status).toBe('PAID');
    expect(order.payments[0]!.payload).toEqual(payload);
    expect(order.reviews[0]).toMatchObject({ kind: 'PAID_AFTER_CLOSE', status: 'OPEN' });
  });

  it('runs sessions in UTC, so database-side CURRENT_TIMESTAMP defaults match the UTC Prisma writes', async () => {
    const [row] = await db.prisma.$queryRawUnsafe<Array<{ tz: string }>>('SELECT @@session.time_zone AS tz');
    expect(row!.tz).toBe('+00:00');
  });

  it('closePrisma can be called twice', async () => {
    const prisma = createPrisma(db.url);
    await prisma.$queryRawUnsafe('SELECT 1');
    await closePrisma(prisma);
    await closePrisma(prisma);
  });
});
