/**
 * Which build of `raftkv` the tests start as real processes (nodes, `raftkv cluster`, the
 * command line). A test run compiles src/ once (compile-raftkv.ts, vitest's globalSetup) and
 * every spawn runs that JavaScript: the same code as the sources, without tsx transforming
 * them again in each process, which cost ~0.7 s of wall time and ~1 s of CPU per spawn.
 * Without the compiled build (a script run outside vitest) the sources run through tsx.
 */
import { fileURLToPath } from 'node:url';

export const RAFTKV_SOURCE_MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/** Set to the compiled src/cli/main.js by the test run's global setup (or by hand, to test a given build). */
export const TEST_BUILD_ENV = 'RAFTKV_TEST_MAIN';

/** The node arguments that run raftkv (the compiled `main` given, else the run's build), before its own arguments. */
export function raftkvArgs(main = process.env[TEST_BUILD_ENV]): string[] {
  return main ? ['--enable-source-maps', main] : ['--import', 'tsx', RAFTKV_SOURCE_MAIN];
}
