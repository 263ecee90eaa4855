/**
 * The fuzzer's three checks can fail: `npm run fuzz` against a real node reports a crash when
 * the node dies (kill -9), a stall when the node stops answering (SIGSTOP for longer than the
 * stall bound), and RSS past a bound set below the node's start-up size. Each run must end
 * with the exact last line, exit 1, and leave its record (seed, iteration, bytes in flight).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../../tools/fuzz/cli.ts', import.meta.url));
const LAST_LINE = /^iterations: (\d+), crashes: (\d+), stalls: (\d+), max-rss-mib: (\d+)$/;
const results = mkdtempSync(join(tmpdir(), 'raftkv-fuzz-test-'));

afterAll(() => rmSync(results, { recursive: true, force: true }));

interface Run {
  code: number | null;
  lines: string[];
  last: RegExpExecArray;
  dir: string;
}

/** Runs the fuzzer; `onStart` gets the node's pid once fuzzing began. */
function fuzz(args: string[], onStart?: (pid: number) => void): Promise<Run> {
  const proc = spawn(process.execPath, ['--import', 'tsx', CLI, ...args, '--results-dir', results], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let started = false;
  proc.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    const m = /^fuzzing \w+: node n1 pid (\d+)/m.exec(out);
    if (m && !started) {
      started = true;
      onStart?.(Number(m[1]));
    }
  });
  proc.stderr.on('data', (d: Buffer) => {
    out += d.toString();
  });
  return new Promise((resolve) => {
    proc.on('exit', (code) => {
      const lines = out.trimEnd().split('\n');
      const last = LAST_LINE.exec(lines[lines.length - 1]);
      if (!last) throw new Error(`no summary line; output:\n${out}`);
      const dir = / results (\S+),/.exec(out)?.[1] ?? '';
      resolve({ code, lines, last, dir });
    });
  });
}

describe('npm run fuzz detects what it is meant to detect', () => {
  it('a node that dies is a crash, with a record of the inputs in flight', async () => {
    const run = await fuzz(['--target', 'resp', '--iterations', '200000', '--seed', '5'], (pid) => {
      setTimeout(() => process.kill(pid, 'SIGKILL'), 1500);
    });
    expect(run.code).toBe(1);
    expect(Number(run.last[2])).toBe(1);
    expect(Number(run.last[1])).toBeLessThan(200_000);
    const record = readdirSync(run.dir).find((f) => f.startsWith('crash-'));
    expect(record).toBeDefined();
    const body = JSON.parse(readFileSync(join(run.dir, record!), 'utf8')) as { seed: number; signal: string; sessions: { first: number; replay: string }[] };
    expect(body.seed).toBe(5);
    expect(body.signal).toBe('SIGKILL');
    expect(body.sessions.length).toBeGreaterThan(0);
    expect(body.sessions[0].replay).toContain('--seed 5 --iterations 200000 --replay');
  });

  it('a node that stops answering for longer than the bound is a stall, at the time it stopped', async () => {
    let stoppedAt = 0;
    let resumedAt = 0;
    const run = await fuzz(['--target', 'resp', '--iterations', '15000', '--seed', '6', '--stall-ms', '1000'], (pid) => {
      setTimeout(() => {
        process.kill(pid, 'SIGSTOP');
        stoppedAt = Date.now();
        setTimeout(() => {
          process.kill(pid, 'SIGCONT');
          resumedAt = Date.now();
        }, 2500);
      }, 1000);
    });
    expect(run.code).toBe(1);
    expect(Number(run.last[2])).toBe(0);
    expect(Number(run.last[3])).toBeGreaterThanOrEqual(1);
    const stalls = readFileSync(join(run.dir, 'stalls.jsonl'), 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { at: string; why: string });
    // A check that began while the node was stopped (or up to one bound before) timed out.
    const during = stalls.filter((e) => Date.parse(e.at) >= stoppedAt - 1000 && Date.parse(e.at) <= resumedAt);
    expect(during.length).toBeGreaterThanOrEqual(1);
    expect(during[0].why).toContain('within 1000 ms');
  });

  it('RSS past the bound fails the run and leaves a record', async () => {
    const run = await fuzz(['--target', 'resp', '--iterations', '20000', '--seed', '7', '--rss-limit-mib', '40']);
    expect(run.code).toBe(1);
    expect(Number(run.last[4])).toBeGreaterThan(40);
    expect(readdirSync(run.dir).some((f) => f.startsWith('rss-'))).toBe(true);
  });
});
