import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/containers/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two-core machines: integration tests spawn whole clusters, so keep file parallelism low.
    maxWorkers: 2,
  },
});
