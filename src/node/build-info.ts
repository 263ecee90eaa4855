/**
 * What this build is, for `raftkv_build_info`, INFO and `raftkv status`: the package version
 * (read once from package.json, which ships with the code in every install and image) and the
 * Node.js version running it.
 */
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export const BUILD_INFO = { version: pkg.version, nodeVersion: process.version } as const;
