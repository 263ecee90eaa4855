/**
 * A full disk (docs/operations.md, "Disk full"): the node's next synced write fails, and the
 * node stops at once with a log line naming the file and the error, rather than answering
 * from memory what it cannot make durable. Once space is freed it restarts with every
 * acknowledged write.
 *
 * The data directory is a small tmpfs mounted for the test, so this needs root (CI runs as
 * root; elsewhere the test is skipped, and says so).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterHarness, waitFor } from '../support/cluster-harness.ts';

const root = process.getuid?.() === 0;
let cluster: ClusterHarness | undefined;
let mnt: string | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
  if (mnt) {
    execFileSync('umount', [mnt]);
    rmSync(mnt, { recursive: true, force: true });
    mnt = undefined;
  }
});

describe.skipIf(!root)('disk full (needs root to mount a tmpfs)', () => {
  it('stops the node with a clear error, and a restart with space keeps every acknowledged write', async () => {
    mnt = mkdtempSync(join(tmpdir(), 'raftkv-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mnt]);
    cluster = new ClusterHarness({ nodes: 1, dataRoot: mnt });
    await cluster.start();
    const h = await cluster.waitLeader();
    const client = new Redis(h.port, { maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    client.on('error', () => {});
    await new Promise((r) => client.once('ready', r));
    const value = 'v'.repeat(100_000);
    const acked: string[] = [];
    let failure = '';
    for (let i = 0; i < 200 && failure === ''; i++) {
      try {
        expect(await client.set(`k${i}`, value)).toBe('OK');
        acked.push(`k${i}`);
      } catch (err) {
        failure = (err as Error).message;
      }
    }
    client.disconnect();
    // 4 MiB cannot hold 200 values of 100 kB: the node fails before the loop ends.
    expect(failure).not.toBe('');
    expect(acked.length).toBeGreaterThan(5);
    await waitFor(() => h.exitCode !== undefined, 10_000, 'the node to stop');
    expect(h.exitCode).toBe(1);
    const log = readFileSync(h.logFile, 'utf8');
    expect(log).toMatch(/No space left on device/);
    expect(log).toMatch(/ready loop failed; stopping the node/);

    execFileSync('mount', ['-o', 'remount,size=64m', mnt]);
    await cluster.restart(h);
    await cluster.waitLeader();
    const again = new Redis(h.port);
    try {
      for (const k of acked) expect(await again.strlen(k), k).toBe(value.length);
    } finally {
      again.disconnect();
    }
  });
});
