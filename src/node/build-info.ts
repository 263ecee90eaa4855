/**
 * What this build is, for `raftkv_build_info` and INFO: the package version (version.ts) and the
 * Node.js version running it.
 */
import { VERSION } from './version.ts';

export const BUILD_INFO = { version: VERSION, nodeVersion: process.version } as const;
