/**
 * The container suite: real images, real Docker networks. Plain `npm test` excludes
 * test/containers/**; run this with `npx vitest run --config test/containers/vitest.config.ts`.
 * Needs a Docker daemon (scripts/start-dockerd.sh starts Debian's dockerd where none runs).
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Ryuk (testcontainers' reaper) is an image pulled from Docker Hub, which air-gapped machines
// cannot reach; every test removes its own containers, networks and volumes instead.
process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/containers/**/*.test.ts'],
    globalSetup: ['test/containers/global-setup.ts'],
    // Two cores: one 3-node cluster at a time.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
