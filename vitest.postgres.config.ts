import { defineConfig } from 'vitest/config';

// The database suite again on PostgreSQL (TARMAC_TEST_DATABASE_URL must point at a server where the user
// may create databases), plus the tests that need several processes on one PostgreSQL.
if (!process.env.TARMAC_TEST_DATABASE_URL) throw new Error('set TARMAC_TEST_DATABASE_URL to run the PostgreSQL suite');

export default defineConfig({
  test: {
    include: ['src/**/*.integration.test.ts', 'tests/**/*.integration.test.ts', '**/*.postgres.test.ts'],
    exclude: ['node_modules/**', 'dist/**'],
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
