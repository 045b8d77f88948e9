import { defineConfig } from 'vitest/config';

// Integration tests talk to the real Redis, MariaDB and RabbitMQ on the machine; each test file
// isolates itself (own key prefix, queue prefix, database, AMQP names), so files run in parallel.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 4,
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: process.env.CI ? { json: 'test-results.json' } : undefined,
  },
});
