/**
 * The start-up failures that are the operator's to fix, turned into ConfigErrors naming the
 * setting, so that `raftkv start` exits 2 with one line instead of hanging or printing a stack
 * trace: a data directory that cannot be created or written, or that another process holds,
 * and a listen address that is taken or not on this machine.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConfigError, type SettingName } from '../node/config.ts';
import { StorageLockedError } from '../storage/index.ts';

/**
 * Creates the data directory if needed and proves it writable, before LevelDB opens it. One level
 * at a time: Node's recursive mkdir never returns for a path under /proc (it keeps retrying the
 * ENOENT that /proc answers), which is how `--data-dir /proc/nope` used to hang.
 */
export function prepareDataDir(dir: string): void {
  const abs = resolve(dir);
  const missing: string[] = [];
  for (let p = abs; !existsSync(p); p = dirname(p)) {
    missing.unshift(p);
    if (dirname(p) === p) break;
  }
  try {
    for (const d of missing) mkdirSync(d);
    if (!statSync(abs).isDirectory()) throw new Error('it is not a directory');
    const probe = join(abs, `.raftkv-write-test-${process.pid}`);
    const fd = openSync(probe, 'w');
    try {
      writeSync(fd, 'raftkv');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
      unlinkSync(probe);
    }
  } catch (err) {
    throw new ConfigError('data-dir', `cannot create or write ${dir}: ${(err as Error).message}`);
  }
}

/** A LevelDB that another process holds is a setting to fix (two nodes given one directory). */
export function storageOpenError(err: unknown): ConfigError | undefined {
  if (err instanceof StorageLockedError) return new ConfigError('data-dir', `${err.message}; is another node using it?`);
  return undefined;
}

/** One line saying why `dir` could not be opened, naming it (LevelDB's own errors may not). */
export function openFailure(err: unknown, dir: string): string {
  const message = (err as Error).message;
  let inner = err as Error;
  while (inner.cause instanceof Error) inner = inner.cause;
  if (message.includes(dir)) return message;
  return `cannot open data directory ${dir}: ${message}${inner !== err ? `: ${inner.message}` : ''}`;
}

/**
 * A listen failure the operator can fix, naming the port or the host setting; undefined for
 * anything else (a bug, to be reported as it is).
 */
export function listenError(err: unknown, setting: { port: SettingName; host: SettingName }, host: string, port: number): ConfigError | undefined {
  const code = (err as NodeJS.ErrnoException).code;
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  switch (code) {
    case 'EADDRINUSE':
      return new ConfigError(setting.port, `${where} is already in use`);
    case 'EACCES':
      return new ConfigError(setting.port, `not allowed to listen on ${where}`);
    case 'EADDRNOTAVAIL':
      return new ConfigError(setting.host, `${host} is not an address of this machine`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ConfigError(setting.host, `${host} does not resolve to an address`);
    default:
      return undefined;
  }
}
