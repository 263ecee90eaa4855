/**
 * The node's entry clock (src/node/entry-clock.ts) against a fake core: never behind the wall
 * clock, the applied high-water, what it returned before, and, on a new leader, any entry of
 * the log it has not applied yet (issue 11, hole 4).
 */
import { describe, expect, it } from 'vitest';
import { encodeEntry } from '../../src/kv/codec.ts';
import { type ClockCore, EntryClock, maxEntryTs } from '../../src/node/entry-clock.ts';
import { CompactedError, type Entry, EntryType } from '../../src/raft/types.ts';

const kv = (index: number, ts: number, term = 1): Entry => ({
  index,
  term,
  type: EntryType.Normal,
  data: encodeEntry({ ts, ops: [{ type: 'dbsize' }] }),
});

/** A core whose log is `log` (indexes consecutive from its first entry); counts the reads. */
class FakeCore implements ClockCore {
  isLeader = false;
  term = 1;
  reads = 0;
  compactedBelow = 0;
  constructor(public log: Entry[]) {}
  logEntries(lo: number, maxBytes: number): Entry[] {
    this.reads++;
    if (lo < this.compactedBelow) throw new CompactedError(lo);
    // At most one entry per page when maxBytes is small, to exercise paging; four otherwise.
    return this.log.filter((e) => e.index >= lo).slice(0, maxBytes < 1024 ? 1 : 4);
  }
}

function clockOn(core: FakeCore, o: { wall?: number; appliedTs?: number; applied?: number } = {}) {
  const src = { wall: o.wall ?? 1000, appliedTs: o.appliedTs ?? 0, applied: o.applied ?? 0 };
  const clock = new EntryClock({ wall: () => src.wall, appliedTs: () => src.appliedTs, applied: () => src.applied, core: () => core });
  return { clock, src };
}

describe('EntryClock', () => {
  it('follows the wall clock but never goes back, and never below the applied high-water', () => {
    const { clock, src } = clockOn(new FakeCore([]));
    expect(clock.now()).toBe(1000);
    src.wall = 900;
    expect(clock.now()).toBe(1000);
    src.appliedTs = 5000;
    expect(clock.now()).toBe(5000);
    src.appliedTs = 0;
    src.wall = 6000;
    expect(clock.now()).toBe(6000);
  });

  it('on becoming leader, rises to the newest ts of the entries it has not applied, before stamping', () => {
    // Applied up to 2; 3..7 are the previous term's tail (one from a clock far ahead), a conf
    // change and a bare no-op among them.
    const core = new FakeCore([
      kv(3, 1100),
      { index: 4, term: 1, type: EntryType.ConfChange, data: new Uint8Array([9, 9, 9]) },
      kv(5, 90_000),
      { index: 6, term: 2, type: EntryType.Normal, data: new Uint8Array(0) },
      kv(7, 1200, 2),
      { index: 8, term: 2, type: EntryType.Normal, data: new Uint8Array([7, 1, 2]) },
    ]);
    const { clock } = clockOn(core, { applied: 2, appliedTs: 1050 });
    expect(clock.now()).toBe(1050);
    expect(core.reads).toBe(0);
    core.isLeader = true;
    core.term = 3;
    expect(clock.now()).toBe(90_000);
    expect(clock.now()).toBe(90_000);
  });

  it('reads the tail once per term, from the applied index on, page by page', () => {
    const core = new FakeCore([kv(1, 50_000), kv(2, 1500), kv(3, 2000), kv(4, 2500), kv(5, 3000), kv(6, 3500)]);
    // Entry 1 is applied: the store's high-water speaks for it (0 here, to show it is not rescanned).
    const { clock } = clockOn(core, { applied: 1, appliedTs: 0 });
    core.isLeader = true;
    core.term = 2;
    expect(clock.now()).toBe(3500);
    // Pages of four: 2..5, 6, then the empty page past the end.
    expect(core.reads).toBe(3);
    for (let i = 0; i < 5; i++) clock.now();
    expect(core.reads).toBe(3);
    // A later term reads again: the node may have followed another leader meanwhile.
    core.log.push(kv(7, 70_000, 4));
    core.term = 5;
    expect(clock.now()).toBe(70_000);
    expect(core.reads).toBe(6);
  });

  it('retries the scan while the core has compacted past the applied index (a snapshot being installed)', () => {
    const core = new FakeCore([kv(10, 40_000), kv(11, 41_000)]);
    core.compactedBelow = 10;
    const { clock, src } = clockOn(core, { applied: 5 });
    core.isLeader = true;
    core.term = 2;
    expect(clock.now()).toBe(1000);
    src.applied = 9;
    src.appliedTs = 39_000;
    expect(clock.now()).toBe(41_000);
  });

  it('maxEntryTs skips what is not a KV entry', () => {
    expect(maxEntryTs([])).toBe(0);
    expect(maxEntryTs([kv(1, 5), kv(2, 3)])).toBe(5);
    expect(maxEntryTs([{ index: 1, term: 1, type: EntryType.ConfChange, data: encodeEntry({ ts: 99, ops: [] }) }])).toBe(0);
  });
});
