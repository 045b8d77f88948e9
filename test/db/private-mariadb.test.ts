import * as mariadb from 'mariadb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateMariaDb } from '../helpers/mariadb-server.js';

describe('PrivateMariaDb', () => {
  let server: PrivateMariaDb;

  beforeAll(async () => {
    server = await PrivateMariaDb.start();
  });

  afterAll(async () => {
    await server?.destroy();
  });

  const connect = () => mariadb.createConnection({ host: '127.0.0.1', port: server.port, user: 'root', connectTimeout: 2000 });

  it('is a separate server reachable as root without a password on its own port', async () => {
    expect(server.port).not.toBe(3306);
    expect(server.url).toBe(`mysql://root@127.0.0.1:${server.port}`);
    const conn = await connect();
    try {
      const [row] = await conn.query<{ port: bigint | number; charset: string }[]>('SELECT @@port AS port, @@character_set_server AS charset');
      expect(Number(row?.port)).toBe(server.port);
      expect(row?.charset).toBe('utf8mb4');
    } finally {
      await conn.end();
    }
  });

  it('keeps committed rows across a hard stop and resume', async () => {
    const conn = await connect();
    try {
      await conn.query('CREATE DATABASE outage_test');
      await conn.query('CREATE TABLE outage_test.items (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL) ENGINE=InnoDB');
      await conn.query('INSERT INTO outage_test.items VALUES (1, ?)', ['survivor']);
    } finally {
      await conn.end();
    }

    await server.stop();
    await server.stop(); // idempotent

    const started = Date.now();
    await expect(connect()).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(Date.now() - started).toBeLessThan(1000);

    await server.resume();
    const again = await connect();
    try {
      const rows = await again.query<{ id: number; name: string }[]>('SELECT id, name FROM outage_test.items');
      expect(rows).toEqual([{ id: 1, name: 'survivor' }]);
    } finally {
      await again.end();
    }
  });
});
