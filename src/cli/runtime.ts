/**
 * Process-level settings a node runs with. They must be in place before the process starts
 * (glibc reads its malloc settings at startup; V8 sizes its young generation when the isolate
 * is created), so whatever starts a node applies them: `raftkv cluster` for its children, the
 * container image (Dockerfile ENV and ENTRYPOINT, checked against this file by a test), and the
 * test harness, which starts nodes the way `raftkv cluster` does. A bare `raftkv start` logs a
 * warning when they are missing. Measurements: docs/performance.md ("Memory").
 */
import { fileURLToPath } from 'node:url';

/**
 * glibc malloc. A node frees large buffers all the time (socket reads, log entries, peer
 * frames); in the main heap the holes they leave stay resident.
 * - MALLOC_MMAP_THRESHOLD_: buffers larger than 64 KiB (log entries, peer frames, snapshot
 *   chunks) get their own mapping, returned on free. Setting it also stops glibc raising the
 *   threshold after the first large free, which would send later large buffers back into the
 *   heap. Just above 64 KiB, not at it: Node's socket read buffers are exactly 64 KiB, and a
 *   mapping per read cost the leader ~11 us of CPU per replicated SET (~5 us at 64 KiB + 1)
 *   for no memory saved. 128 KiB saves ~45 MiB less at 1M keys.
 * - MALLOC_ARENA_MAX: LevelDB's and libuv's threads would each get an arena (up to 8 per core),
 *   each keeping freed memory of its own.
 */
export const NODE_ENV_DEFAULTS: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '65537',
};

/**
 * V8 flags, on the node command line. A semi-space of 8 MiB instead of Node's 16 halves the
 * young generation's resident 32 MiB; 4 MiB promoted enough short-lived garbage on the leader
 * to cost more in the old generation than it saved.
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];

/**
 * The node arguments that run this same build of `raftkv` again: the sources through tsx (as
 * `npm start` runs them) or the compiled JavaScript (as the container image does), so that
 * `raftkv cluster` starts its children from whichever build it was started from.
 */
export function selfCommand(): string[] {
  const fromSources = import.meta.url.endsWith('.ts');
  const main = fileURLToPath(new URL(fromSources ? './main.ts' : './main.js', import.meta.url));
  return [...NODE_FLAGS, ...(fromSources ? ['--import', 'tsx'] : ['--enable-source-maps']), main];
}

/** A node's environment: the defaults, unless `env` sets the variable itself. */
export function nodeEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...NODE_ENV_DEFAULTS, ...env };
}

/** The settings the current process was started without (env variables, then flags). */
export function missingRuntimeSettings(env: NodeJS.ProcessEnv = process.env, execArgv: readonly string[] = process.execArgv): string[] {
  const missing = Object.keys(NODE_ENV_DEFAULTS).filter((k) => env[k] === undefined);
  const given = [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)];
  for (const flag of NODE_FLAGS) {
    const name = flag.split('=')[0];
    if (!given.some((a) => a === name || a.startsWith(`${name}=`))) missing.push(flag);
  }
  return missing;
}
