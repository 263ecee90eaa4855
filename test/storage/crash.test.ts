/**
 * Crash safety with a real process: a child writes entries, snapshots and compactions as fast
 * as it can and prints what became durable; it is killed with SIGKILL at a random moment, and
 * the reopened store must hold every acknowledged entry and snapshot, byte for byte, and verify.
 * Several rounds run on the same directory, so later rounds also recover from earlier kills
 * (including ones in the middle of a snapshot).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { entryData, snapshotData } from './fixtures/crash-data.ts';
import { openStore, removeTmpDirs, tmpDir } from './helpers.ts';

const writer = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url));
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await removeTmpDirs();
});

interface Run {
  acked: Map<number, number>; // index -> term of every acknowledged entry
  lastSnap: number;
  killedAfterMs: number;
}

/** Starts the writer, lets it run for a random time after its first ack, then SIGKILLs it. */
function runAndKill(dir: string, acked: Map<number, number>): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', writer, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const killedAfterMs = 20 + Math.floor(Math.random() * 700);
  let killTimer: NodeJS.Timeout | undefined;
  let lastSnap = 0;
  let pending = '';
  let stderr = '';
  return new Promise<Run>((resolve, reject) => {
    child.stderr!.on('data', (d) => (stderr += d));
    child.stdout!.on('data', (d: Buffer) => {
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        const args = line.split(' ').slice(1).map(Number);
        if (line.startsWith('ack ')) {
          const [from, to, term] = args;
          for (let i = from; i <= to; i++) acked.set(i, term);
          killTimer ??= setTimeout(() => child.kill('SIGKILL'), killedAfterMs);
        } else if (line.startsWith('snap ')) {
          lastSnap = args[0];
        }
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(killTimer);
      if (signal === 'SIGKILL') resolve({ acked, lastSnap, killedAfterMs });
      else reject(new Error(`writer exited with ${code}: ${stderr}`));
    });
  });
}

it('every acknowledged entry and snapshot survives kill -9, and the log verifies', async () => {
  const dir = await tmpDir();
  const acked = new Map<number, number>();
  let lastSnap = 0;
  let orphanRounds = 0;
  for (let round = 0; round < 3; round++) {
    const run = await runAndKill(dir, acked);
    lastSnap = Math.max(lastSnap, run.lastSnap);
    const ctx = `round ${round}, killed ${run.killedAfterMs} ms after the first ack, ${acked.size} entries acknowledged`;

    const logger = { info: (m: string) => m.includes('unfinished snapshot') && orphanRounds++, warn() {}, error() {} };
    const s = await openStore(dir, { logger }); // verifies every record; throws CorruptDataError otherwise
    try {
      const maxAcked = Math.max(0, ...acked.keys());
      expect(s.lastIndex(), ctx).toBeGreaterThanOrEqual(maxAcked);
      const snap = s.snapshot();
      expect(snap.meta.index, ctx).toBeGreaterThanOrEqual(lastSnap);
      if (snap.meta.index > 0) expect(Buffer.from(snap.data).equals(snapshotData(snap.meta.index)), ctx).toBe(true);
      for (const [index, term] of acked) {
        if (index < s.firstIndex()) {
          expect(index, ctx).toBeLessThanOrEqual(snap.meta.index); // compacted only behind a snapshot
        } else {
          expect(s.term(index), `${ctx}: term of acknowledged entry ${index}`).toBe(term);
        }
      }
      // Every retained entry, acknowledged or not, is exactly what was written.
      for (const e of s.entries(s.firstIndex(), s.lastIndex() + 1, Number.POSITIVE_INFINITY)) {
        expect(Buffer.from(e.data).equals(entryData(e.index)), `${ctx}: data of entry ${e.index}`).toBe(true);
      }
      const hs = s.initialState().hardState;
      expect(hs.commit).toBeLessThanOrEqual(s.lastIndex());
      expect(hs.term, ctx).toBe(round + 1);
    } finally {
      await s.close();
    }
  }
  console.info(`${acked.size} entries acknowledged over 3 kills; ${orphanRounds} kills landed inside createSnapshot`);
  // The runs went through snapshots and compactions, not just appends.
  expect(lastSnap).toBeGreaterThan(0);
  const s = await openStore(dir);
  expect(s.firstIndex()).toBeGreaterThan(1);
  await s.close();
}, 60_000);
