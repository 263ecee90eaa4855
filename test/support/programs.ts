/**
 * Runs the real command-line programs tests compare against (redis-cli, curl), one way for every
 * test: output collected whole, the exit code given back, and stdin written safely.
 */
import { spawn } from 'node:child_process';

export interface ProgramRun {
  code: number | null;
  /** stdout as text. */
  out: string;
  /** stdout as bytes, for binary output (DUMP payloads). */
  bytes: Buffer;
  err: string;
}

const INSTALL: Record<string, string> = { 'redis-cli': 'apt-get install redis-tools', curl: 'apt-get install curl' };

/**
 * Runs `cmd` to its exit and resolves with what it printed; never rejects on a non-zero exit (the
 * caller asserts on the code). Rejects only when the program cannot be started.
 *
 * stdin is /dev/null unless `input` is given. With input, a program that exits without reading it
 * (redis-cli with its command on the command line does) turns the write into an EPIPE, which says
 * nothing the exit code and output do not, so it is dropped rather than left to crash the run.
 */
export function runProgram(cmd: string, args: string[], input?: Buffer | string): Promise<ProgramRun> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    p.stdout?.on('data', (d: Buffer) => out.push(d));
    p.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    p.once('error', (e) => reject(new Error(`cannot run ${cmd}${INSTALL[cmd] ? ` (${INSTALL[cmd]})` : ''}: ${e.message}`)));
    p.once('close', (code) => {
      const bytes = Buffer.concat(out);
      resolve({ code, out: bytes.toString(), bytes, err });
    });
    if (input !== undefined && p.stdin) {
      p.stdin.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code !== 'EPIPE') reject(e);
      });
      p.stdin.end(input);
    }
  });
}

/** Runs redis-cli and resolves with its stdout bytes; rejects, with its output, on a non-zero exit. */
export async function redisCliBytes(args: string[], input?: Buffer | string): Promise<Buffer> {
  const r = await runProgram('redis-cli', args, input);
  if (r.code !== 0) throw new Error(`redis-cli ${args.join(' ')} exited ${r.code}: ${r.err}${r.out}`);
  return r.bytes;
}

/** Runs redis-cli and resolves with its stdout as text; rejects, with its output, on a non-zero exit. */
export async function redisCli(args: string[], input?: Buffer | string): Promise<string> {
  return (await redisCliBytes(args, input)).toString();
}
