import { describe, expect, it } from 'vitest';
import { type Entry, EntryType, type HardState, type Ready } from '../../src/raft/index.ts';
import type { MemoryLog } from '../../src/storage/memory-log.ts';
import { InvariantViolation, SafetyMonitor } from './invariants.ts';
import { emptyLog } from './sim-storage.ts';

/** The safety monitor fed by hand: each invariant must fire on the violation it describes. */

const three = { voters: ['n1', 'n2', 'n3'], learners: [] };
const e = (index: number, term: number, data = ''): Entry => ({ index, term, type: EntryType.Normal, data: new TextEncoder().encode(data) });
const ready = (entries: Entry[], hardState?: HardState): Ready => ({
  entries,
  hardState,
  committedEntries: [],
  messages: [],
  readStates: [],
  mustSync: true,
});

/** Persists `rd` on `disk` the way the simulator does, with the monitor's hooks around it. */
function persist(m: SafetyMonitor, id: string, disk: MemoryLog, rd: Ready, leaderTerm?: number): void {
  m.beforePersist(id, disk, rd, leaderTerm);
  disk.applySave(disk.planSave({ entries: rd.entries, hardState: rd.hardState }));
  m.afterPersist(id, disk, rd);
}

function violation(f: () => void): string {
  try {
    f();
  } catch (err) {
    if (err instanceof InvariantViolation) return err.invariant;
    throw err;
  }
  return 'none';
}

describe('safety monitor', () => {
  it('election safety: two leaders of one term', () => {
    const m = new SafetyMonitor();
    m.leader('n1', 3, emptyLog());
    expect(violation(() => m.leader('n2', 3, emptyLog()))).toBe('election-safety');
    expect(violation(() => m.leader('n2', 4, emptyLog()))).toBe('none');
  });

  it('leader append-only: a leader truncating its own durable log', () => {
    const m = new SafetyMonitor();
    const disk = emptyLog();
    persist(m, 'n1', disk, ready([e(1, 1), e(2, 1)]));
    m.leader('n1', 1, disk);
    expect(violation(() => persist(m, 'n1', disk, ready([e(2, 1, 'other')]), 1))).toBe('leader-append-only');
  });

  it('leader append-only: judged by the leadership a Ready was taken under, even once it is durable later', () => {
    const m = new SafetyMonitor();
    const disk = emptyLog();
    persist(m, 'n1', disk, ready([e(1, 1), e(2, 1)]));
    m.leader('n1', 1, disk);
    m.notLeader('n1');
    expect(violation(() => persist(m, 'n1', disk, ready([e(2, 1, 'other')]), 1))).toBe('leader-append-only');
    expect(violation(() => persist(m, 'n1', disk, ready([e(3, 1)]), 1))).toBe('none');
    expect(violation(() => persist(m, 'n2', emptyLog(), ready([e(1, 1)]), 1))).toBe('none');
  });

  it('a commit claimed before it is durable (asynchronous writes) is checked like a persisted one', () => {
    const m = new SafetyMonitor();
    const disk = emptyLog();
    persist(m, 'n1', disk, ready([e(1, 1), e(2, 1)], { term: 1, vote: 'n1', commit: 2 }));
    expect(violation(() => m.claimCommitted('n2', 2, 2, 2))).toBe('committed-entry-lost');
    expect(violation(() => m.applied('n3', e(1, 1), 5))).toBe('none');
    expect(violation(() => m.applied('n3', e(2, 2), 6))).toBe('state-machine-safety');
    const m2 = new SafetyMonitor();
    m2.claimCommitted('n2', 1, 1, 1);
    expect(violation(() => m2.applied('n2', e(1, 1), 7))).toBe('none');
    expect(violation(() => persist(m2, 'n1', emptyLog(), ready([e(1, 2)], { term: 2, vote: 'n1', commit: 1 })))).toBe('committed-entry-lost');
  });

  it('log matching: one (index, term) with two contents, or two predecessors', () => {
    const m = new SafetyMonitor();
    persist(m, 'n1', emptyLog(), ready([e(1, 1, 'a'), e(2, 2, 'b')]));
    expect(violation(() => persist(m, 'n2', emptyLog(), ready([e(1, 1, 'x')])))).toBe('log-matching');
    expect(violation(() => persist(m, 'n3', emptyLog(), ready([e(1, 2, 'z'), e(2, 2, 'b')])))).toBe('log-matching');
  });

  it('committed entries: a commit that changes term, and one a quorum could still lose', () => {
    const m = new SafetyMonitor();
    const d1 = emptyLog();
    const d2 = emptyLog();
    persist(m, 'n1', d1, ready([e(1, 1, 'a')], { term: 1, vote: 'n1', commit: 1 }));
    expect(violation(() => persist(m, 'n2', d2, ready([e(1, 2, 'b')], { term: 2, vote: 'n2', commit: 1 })))).toBe('committed-entry-lost');
    // Entry 1 committed on n1 alone: n2 and n3 (empty logs) can elect n2 without it.
    const disks = new Map([
      ['n1', d1],
      ['n2', emptyLog()],
      ['n3', emptyLog()],
    ]);
    expect(violation(() => m.committedSafe(three.voters, (id) => disks.get(id)))).toBe('committed-entry-lost');
  });

  it('Figure 8: an old-term entry on a majority is still unsafe while a newer-term log can win', () => {
    const m = new SafetyMonitor();
    const s1 = emptyLog();
    const s2 = emptyLog();
    const s3 = emptyLog();
    persist(m, 's3', s3, ready([e(1, 3, 'c')]));
    persist(m, 's2', s2, ready([e(1, 2, 'b')]));
    persist(m, 's1', s1, ready([e(1, 2, 'b'), e(2, 4)], { term: 4, vote: 's1', commit: 1 }));
    const disks = new Map([
      ['s1', s1],
      ['s2', s2],
      ['s3', s3],
    ]);
    // s3 (last term 3) is at least as up to date as s2 (last term 2): together a quorum.
    expect(violation(() => m.committedSafe(['s1', 's2', 's3'], (id) => disks.get(id)))).toBe('committed-entry-lost');
    persist(m, 's2', s2, ready([e(2, 4)]));
    expect(violation(() => m.committedSafe(['s1', 's2', 's3'], (id) => disks.get(id)))).toBe('none');
  });

  it('leader completeness: a new leader without an entry committed in an earlier term', () => {
    const m = new SafetyMonitor();
    const d1 = emptyLog();
    persist(m, 'n1', d1, ready([e(1, 1, 'a')], { term: 1, vote: 'n1', commit: 1 }));
    expect(violation(() => m.leader('n2', 2, emptyLog()))).toBe('leader-completeness');
    expect(violation(() => m.leader('n1', 3, d1))).toBe('none');
  });

  it('state machine safety: gaps, uncommitted entries and diverging replicas', () => {
    const m = new SafetyMonitor();
    const d1 = emptyLog();
    persist(m, 'n1', d1, ready([e(1, 1, 'a'), e(2, 1, 'b')], { term: 1, vote: 'n1', commit: 1 }));
    m.started('n2', emptyLog());
    expect(violation(() => m.applied('n2', e(2, 1, 'b'), 7))).toBe('state-machine-safety'); // gap
    expect(violation(() => m.applied('n1', e(1, 1, 'a'), 7))).toBe('none');
    expect(violation(() => m.applied('n1', e(2, 1, 'b'), 8))).toBe('state-machine-safety'); // not committed
    expect(violation(() => m.applied('n2', e(1, 1, 'a'), 9))).toBe('state-machine-safety'); // other digest
  });
});
