/**
 * Synchronous wrappers around `ip` and `iptables`. Synchronous on purpose: set-up and tear-down
 * are a few dozen short commands, and tear-down must also work from a process 'exit' handler,
 * where nothing asynchronous runs any more.
 */
import { execFileSync } from 'node:child_process';

export class CommandError extends Error {
  override name = 'CommandError';
  constructor(
    readonly argv: readonly string[],
    readonly stderr: string,
  ) {
    super(`${argv.join(' ')} failed: ${stderr.trim() || 'no output'}`);
  }
}

/** Runs a command and returns its stdout; throws CommandError with its stderr on failure. */
export function sh(argv: readonly string[]): string {
  try {
    return execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string | Buffer; message: string };
    throw new CommandError(argv, e.stderr ? String(e.stderr) : e.message);
  }
}

/** Like `sh`, for tear-down: a failure (already gone) is ignored. */
export function shQuiet(argv: readonly string[]): boolean {
  try {
    sh(argv);
    return true;
  } catch {
    return false;
  }
}

export function inNamespace(ns: string, argv: readonly string[]): string[] {
  return ['ip', 'netns', 'exec', ns, ...argv];
}

export function hasCommand(name: string): boolean {
  return shQuiet(['sh', '-c', `command -v ${name}`]);
}
