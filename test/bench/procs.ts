/**
 * Every process and temp directory the benchmark creates is registered here, so one cleanup
 * path (normal exit, a thrown error, Ctrl-C, SIGTERM) kills them and removes the directories.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const children = new Set<ChildProcess>();
const dirs = new Set<string>();
const cleanups: (() => Promise<void>)[] = [];

export class ProcessExitedError extends Error {
  constructor(what: string, code: number | null, logFile: string) {
    super(`${what} exited with ${code}; see ${logFile}`);
  }
}

export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(d);
  return d;
}

/** Spawns a tracked child whose stdout/stderr go to `logFile`. */
export function spawnLogged(cmd: string, args: string[], logFile: string, opts: SpawnOptions = {}): ChildProcess {
  const out = createWriteStream(logFile, { flags: 'a' });
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  p.stdout?.pipe(out);
  p.stderr?.pipe(out);
  track(p);
  return p;
}

export function track(p: ChildProcess): void {
  children.add(p);
  p.once('exit', () => children.delete(p));
}

/** Cleanup for resources owned elsewhere (the RaftKV harness has its own stop()). */
export function onCleanup(fn: () => Promise<void>): void {
  cleanups.push(fn);
}

let cleaning: Promise<void> | undefined;
export function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
    for (const p of children) p.kill('SIGKILL');
    if (!process.env.RAFTKV_KEEP_BENCH_DATA) for (const d of dirs) rmSync(d, { recursive: true, force: true });
  })();
  return cleaning;
}

/** Ctrl-C and SIGTERM still clean up; a second Ctrl-C exits at once. */
export function installSignalCleanup(): void {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      console.error(`\n${sig}: cleaning up`);
      void cleanup().finally(() => process.exit(130));
    });
  }
}

/** A free loopback port below the ephemeral range (see test/support/cluster-harness.ts for why). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const ok = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error('no free port found in 20000-31999');
}

/** Runs a command to completion and returns its stdout; rejects on a non-zero exit. */
export function run(cmd: string, args: string[], opts: SpawnOptions & { input?: Buffer } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], ...opts });
    track(p);
    let out = '';
    let err = '';
    p.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    p.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    p.once('error', reject);
    p.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.slice(-2000)}`))));
    // A program that exits without reading its input makes the write an EPIPE; its exit code
    // says all there is to say (programs.ts drops it the same way).
    p.stdin?.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') reject(e);
    });
    if (opts.input) p.stdin?.end(opts.input);
    else p.stdin?.end();
  });
}

/** Resident set size of a process in bytes, from /proc. */
export async function rssBytes(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/**
 * A process's user and system CPU in seconds, from /proc/<pid>/stat (USER_HZ 100: 10 ms steps),
 * and its main thread's share (user + system): the JavaScript thread, against LevelDB's and
 * libuv's threads and V8's helpers.
 */
export function cpuSeconds(pid: number): { user: number; system: number; main: number } {
  const ticks = (file: string) => readFileSync(file, 'utf8').split(') ')[1]!.split(' ');
  const all = ticks(`/proc/${pid}/stat`);
  const main = ticks(`/proc/${pid}/task/${pid}/stat`);
  return { user: Number(all[11]) / 100, system: Number(all[12]) / 100, main: (Number(main[11]) + Number(main[12])) / 100 };
}

/**
 * The whole machine's CPU time in seconds from /proc/stat's first line: `busy` (every state but
 * idle and iowait) and `total`, over all cores. Differenced around a load, busy / total says
 * whether the load was CPU-bound, and busy / operations is what one operation cost the machine:
 * server, generator and everything else together.
 */
export function machineCpuSeconds(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = fields[3]! + fields[4]!;
  return { busy: (total - idle) / 100, total: total / 100 };
}

/** A process's I/O counts from /proc/<pid>/io: bytes handed to write(2) and friends, and read and write syscalls. */
export function ioCounts(pid: number): { wchar: number; syscr: number; syscw: number } {
  const text = readFileSync(`/proc/${pid}/io`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { wchar: field('wchar'), syscr: field('syscr'), syscw: field('syscw') };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
