import { defineConfig } from 'prisma/config';

// The Prisma CLI only needs the URL for `migrate deploy`/`db` on machines that have the
// schema engine; our own runner (npm run db:migrate) applies the same SQL files without it.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'mysql://root@127.0.0.1:3306/seckill' },
});
