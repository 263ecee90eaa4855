import { defineConfig } from 'vitest/config';

/** The chaos suite's own unit tests: `npx vitest run --config chaos/vitest.config.ts`. */
export default defineConfig({
  test: {
    include: ['chaos/test/**/*.test.ts'],
    testTimeout: 30_000,
    maxWorkers: 1,
  },
});
