/**
 * Runs the `raftkv` command line (the test run's build: raftkv-build.ts) as a real process, for the
 * tests of its commands: exit code and both outputs. The caller's operator environment
 * (RAFTKV_ENDPOINTS, RAFTKV_HTTP_TOKEN, REDISCLI_AUTH) is cleared, so a developer's own
 * settings cannot point a test at another cluster; `env` sets what a test wants. A command that
 * hangs is killed after `timeoutMs` (exit code null).
 */
import { spawn } from 'node:child_process';
import { raftkvArgs } from './raftkv-build.ts';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runRaftkv(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<CliRun> {
  const child = spawn(process.execPath, [...raftkvArgs(), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RAFTKV_ENDPOINTS: '', RAFTKV_HTTP_TOKEN: '', REDISCLI_AUTH: '', ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    }),
  );
}
