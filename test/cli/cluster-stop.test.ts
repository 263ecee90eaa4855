/**
 * `raftkv cluster` (what `npm start` runs) after one of its nodes is killed: it names the node,
 * its pid and the signal at once (was "a node exited with code null"), and stopping it
 * afterwards ends within the graceful-shutdown time of the nodes still up (was a hang: it
 * waited for an 'exit' event of the dead node that had already been emitted). Real processes:
 * the CLI, its three node children, LevelDB on disk.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freeBasePort, waitFor } from '../support/cluster-harness.ts';
import { raftkvArgs } from '../support/raftkv-build.ts';

const root = mkdtempSync(join(tmpdir(), 'raftkv-cluster-stop-'));
let cli: ChildProcess | undefined;

afterAll(() => {
  if (cli?.pid && cli.exitCode === null && cli.signalCode === null) {
    // The test failed with the CLI hung: take its children with it (SIGKILL, which they cannot outlive).
    for (const pid of childPids(cli.pid)) process.kill(pid, 'SIGKILL');
    cli.kill('SIGKILL');
  }
  rmSync(root, { recursive: true, force: true });
});

/** Processes whose parent is `ppid`, from /proc, with the `--id` they were started with. */
function childPids(ppid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return (
          readFileSync(`/proc/${d}/stat`, 'utf8')
            .replace(/^.*\) /, '')
            .split(' ')[1] === String(ppid)
        );
      } catch {
        return false;
      }
    })
    .map(Number);
}

function nodeIdOf(pid: number): string | undefined {
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  const i = argv.indexOf('--id');
  return i >= 0 ? argv[i + 1] : undefined;
}

describe('raftkv cluster after a node is killed', () => {
  it('names the node, pid and signal, and a later stop does not hang', async () => {
    const base = await freeBasePort([0, 1, 2, 10000, 10001, 10002]);
    const proc = spawn(process.execPath, [...raftkvArgs(), 'cluster', '--nodes', '3', '--base-port', String(base), '--data-dir', root, '--log-level', 'warn'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cli = proc;
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    proc.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      proc.on('exit', (code, signal) => resolve({ code, signal })),
    );
    // The banner comes once a leader is known.
    await waitFor(() => stdout.includes('Ctrl-C stops the cluster.'), 60_000, `the banner (stderr: ${stderr})`, 100);
    expect(stdout).toContain(`RESP 127.0.0.1:${base}`);
    // (tsx's esbuild service is a child too, without an --id.)
    const nodes = childPids(proc.pid as number)
      .map((pid) => ({ pid, id: nodeIdOf(pid) }))
      .filter((n) => n.id !== undefined);
    expect(nodes.map((n) => n.id).sort()).toEqual(['n1', 'n2', 'n3']);

    const victim = nodes.find((n) => n.id === 'n2') as { pid: number; id: string };
    process.kill(victim.pid, 'SIGKILL');
    await waitFor(() => stderr.includes('raftkv cluster: node n2'), 10_000, 'the exit line', 50);
    expect(stderr).toContain(`raftkv cluster: node n2 (pid ${victim.pid}) was killed by SIGKILL`);

    const t0 = Date.now();
    proc.kill('SIGTERM');
    const end = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 45_000))]);
    expect(end, `stderr: ${stderr}`).not.toBe('hung');
    // A node died under it: not a clean run.
    expect(end).toEqual({ code: 1, signal: null });
    expect(Date.now() - t0).toBeLessThan(45_000);
    for (const n of nodes) expect(() => process.kill(n.pid, 0), `${n.id} still running`).toThrow();
  }, 150_000);
});
