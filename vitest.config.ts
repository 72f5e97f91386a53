import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // graphql ships both ESM and CommonJS; Pothos and Yoga must share one copy of its classes.
    alias: { graphql: 'graphql/index.js' },
  },
  test: {
    include: ['{apps,packages}/*/{src,test}/**/*.test.ts', 'load/{src,test}/**/*.test.ts'],
    globalSetup: ['./packages/db/src/testing/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: more workers only add contention on the shared Postgres.
    maxWorkers: 2,
  },
});
