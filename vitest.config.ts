import { defineConfig } from 'vitest/config';

// `npm test`: unit tests, the database integration suite on embedded PGlite, and the end-to-end tests.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'tests/**/*.test.ts'],
    exclude: ['**/*.postgres.test.ts', 'node_modules/**', 'dist/**'],
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
