/**
 * crash.test.ts across groups: a child writes to several groups of one engine at once (their
 * saves share group commits), snapshots and compacts each, and creates and drops a scratch group
 * over and over; it is killed with SIGKILL at a random moment. The reopened engine must refuse
 * no group, hold every acknowledged entry and snapshot of every group byte for byte, have
 * no trace of a group whose drop was acknowledged, and every scratch group whose creation was
 * acknowledged and whose drop had not begun; a group whose drop was cut short is either gone or
 * whole, never half there. Several rounds run on the same directory.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { CRASH_GROUPS, groupEntryData, groupSnapshotData, SCRATCH_ENTRIES, SCRATCH_FROM } from './fixtures/crash-data.ts';
import { closeEngines, openEngine, removeTmpDirs, tmpDir } from './helpers.ts';

const writer = fileURLToPath(new URL('./fixtures/crash-engine-writer.ts', import.meta.url));
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await closeEngines();
  await removeTmpDirs();
});

/** What the writers have acknowledged, over all rounds. */
interface Acked {
  entries: Map<number, Map<number, number>>; // group -> index -> term
  lastSnap: Map<number, number>;
  created: Set<number>;
  dropping: Set<number>;
  dropped: Set<number>;
}

function runAndKill(dir: string, round: number, acked: Acked): Promise<number> {
  const firstScratch = String(SCRATCH_FROM + 1000 * round);
  const child = spawn(process.execPath, ['--import', 'tsx', writer, dir, firstScratch], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const killedAfterMs = 20 + Math.floor(Math.random() * 700);
  let killTimer: NodeJS.Timeout | undefined;
  let pending = '';
  let stderr = '';
  return new Promise<number>((resolve, reject) => {
    child.stderr!.on('data', (d) => (stderr += d));
    child.stdout!.on('data', (d: Buffer) => {
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        const [what, ...rest] = line.split(' ');
        const [g, a, b, term] = rest.map(Number);
        if (what === 'ack') {
          const m = acked.entries.get(g) ?? new Map<number, number>();
          acked.entries.set(g, m);
          for (let i = a; i <= b; i++) m.set(i, term);
        } else if (what === 'snap') {
          acked.lastSnap.set(g, Math.max(acked.lastSnap.get(g) ?? 0, a));
        } else if (what === 'created' || what === 'dropping' || what === 'dropped') {
          acked[what].add(g);
        }
        // The clock starts at the first ack, once the run as a whole has durable snapshots and
        // drops to check: on a loaded machine the writer may not reach either in 720 ms.
        if (acked.entries.size > 0 && acked.lastSnap.size > 0 && acked.dropped.size > 0) {
          killTimer ??= setTimeout(() => child.kill('SIGKILL'), killedAfterMs);
        }
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(killTimer);
      if (signal === 'SIGKILL') resolve(killedAfterMs);
      else reject(new Error(`writer exited with ${code}: ${stderr}`));
    });
  });
}

it('every acknowledged entry, snapshot, creation and drop of every group survives kill -9', async () => {
  const dir = await tmpDir();
  const acked: Acked = { entries: new Map(), lastSnap: new Map(), created: new Set(), dropping: new Set(), dropped: new Set() };
  let [killedInDrop, foundWhole] = [0, 0];
  const counted = new Set<number>();
  for (let round = 0; round < 3; round++) {
    const killedAfterMs = await runAndKill(dir, round, acked);
    const ctx = `round ${round}, killed ${killedAfterMs} ms after the first ack`;
    const e = await openEngine(dir); // verifies every group; a damaged one would be refused
    try {
      for (const g of e.groupIds()) expect(e.refusal(g), `${ctx}: group ${g}`).toBeUndefined();
      for (const g of CRASH_GROUPS) {
        const s = e.group(g);
        const c = `${ctx}, group ${g}`;
        const mine = acked.entries.get(g) ?? new Map<number, number>();
        expect(s.lastIndex(), c).toBeGreaterThanOrEqual(Math.max(0, ...mine.keys()));
        const snap = s.snapshot();
        expect(snap.meta.index, c).toBeGreaterThanOrEqual(acked.lastSnap.get(g) ?? 0);
        if (snap.meta.index > 0) expect(Buffer.from(snap.data).equals(groupSnapshotData(g, snap.meta.index)), c).toBe(true);
        for (const [index, term] of mine) {
          if (index < s.firstIndex()) expect(index, c).toBeLessThanOrEqual(snap.meta.index);
          else expect(s.term(index), `${c}: term of acknowledged entry ${index}`).toBe(term);
        }
        for (const x of s.entries(s.firstIndex(), s.lastIndex() + 1, Number.POSITIVE_INFINITY)) {
          expect(Buffer.from(x.data).equals(groupEntryData(g, x.index)), `${c}: data of entry ${x.index}`).toBe(true);
        }
        expect(s.initialState().hardState.term, c).toBe(round + 1);
      }
      // A drop is all or nothing: a group whose drop began is either gone or whole.
      const scratch = e.groupIds().filter((g) => g >= SCRATCH_FROM);
      const inDrop = [...acked.dropping].filter((g) => !acked.dropped.has(g) && !counted.has(g));
      for (const g of inDrop) counted.add(g);
      killedInDrop += inDrop.length;
      foundWhole += inDrop.filter((g) => scratch.includes(g)).length;
      for (const g of acked.dropped) expect(scratch, `${ctx}: scratch group ${g} was dropped`).not.toContain(g);
      for (const g of acked.created) if (!acked.dropping.has(g)) expect(scratch, `${ctx}: scratch group ${g} was created`).toContain(g);
      for (const g of scratch) {
        if (!acked.created.has(g)) continue; // killed while it was being filled
        const s = e.group(g);
        expect([s.firstIndex(), s.lastIndex()], `${ctx}: scratch group ${g}`).toEqual([1, SCRATCH_ENTRIES]);
      }
    } finally {
      await closeEngines();
    }
  }
  const snaps = [...acked.lastSnap.values()];
  console.info(
    `${[...acked.entries.values()].reduce((n, m) => n + m.size, 0)} entries acknowledged in ${CRASH_GROUPS.length} groups over 3 kills; ` +
      `${snaps.length} groups snapshotted; ${acked.dropped.size} scratch groups dropped; ${killedInDrop} kills landed inside a drop ` +
      `(${foundWhole} of those groups found whole, the others' drops finished at open)`,
  );
  expect(snaps.length).toBeGreaterThan(0);
  expect(acked.dropped.size).toBeGreaterThan(0);
}, 90_000);
