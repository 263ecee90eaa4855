import { defineConfig } from 'vitest/config';
import { NODE_FLAGS } from './src/cli/runtime.ts';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/containers/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two-core machines: integration tests spawn whole clusters, so keep file parallelism low.
    maxWorkers: 2,
    // Test workers run the product's code with the V8 flags a node runs with (src/cli/runtime.ts).
    // Node 24's default young generation is larger than Node 20's, and a scavenge that copies a
    // restore's surviving objects grows with it: 30-55 ms without the flag, 8-10 ms with it.
    execArgv: [...NODE_FLAGS],
    // Nodes and the command line run as real processes from src/ compiled once per run
    // (test/support/raftkv-build.ts), not through tsx in every process.
    globalSetup: ['test/support/compile-raftkv.ts'],
  },
});
