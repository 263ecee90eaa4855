import { describe, expect, it } from 'vitest';
import { compactionPoint } from '../../src/node/snapshotter.ts';
import { ENTRY_OVERHEAD, entrySize } from '../../src/raft/index.ts';
import { type Entry, EntryType } from '../../src/raft/types.ts';

/** The sizes (entrySize) of entries ending at `last`, each with a payload of the given size. */
function tail(last: number, sizes: number[]): number[] {
  const ents: Entry[] = sizes.map((n, i) => ({ index: last - sizes.length + 1 + i, term: 1, type: EntryType.Normal, data: new Uint8Array(n) }));
  return ents.map(entrySize);
}

describe('compactionPoint', () => {
  it('keeps keep-entries entries when they fit in keep-bytes', () => {
    expect(compactionPoint(tail(100, Array(20).fill(10)), 100, 5, 1 << 20)).toBe(95);
  });

  it('keeps fewer entries when their bytes pass keep-bytes', () => {
    // Each entry costs 1000 + ENTRY_OVERHEAD: three fit in 3100 + 3 * overhead, a fourth does not.
    const keepBytes = 3 * (1000 + ENTRY_OVERHEAD) + 100;
    expect(compactionPoint(tail(100, Array(20).fill(1000)), 100, 5000, keepBytes)).toBe(97);
  });

  it('counts bytes from the newest entry backwards', () => {
    // The newest entry is small and fits; the big one before it does not, so nothing older stays.
    const ents = tail(50, [10, 10, 100_000, 10]);
    expect(compactionPoint(ents, 50, 5000, 1000)).toBe(49);
  });

  it('compacts everything up to the snapshot when nothing may be kept', () => {
    expect(compactionPoint(tail(10, [1, 1, 1]), 10, 0, 1 << 20)).toBe(10);
    expect(compactionPoint(tail(10, [1, 1, 1]), 10, 5, 0)).toBe(10);
  });

  it('keeps the whole retained tail when it is within both bounds', () => {
    expect(compactionPoint(tail(10, [1, 1, 1]), 10, 5000, 1 << 20)).toBe(7);
    expect(compactionPoint([], 10, 5000, 1 << 20)).toBe(10);
  });
});
