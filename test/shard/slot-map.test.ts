/** The slot map's lookups and the invariant checker: every broken invariant is named. */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nodeIdProblem as runtimeNodeIdProblem } from '../../src/node/addresses.ts';
import { keyHashSlot, SLOT_COUNT as RESP_SLOT_COUNT } from '../../src/resp/slot.ts';
import { initialLayout } from '../../src/shard/layout.ts';
import {
  checkMap,
  findGroup,
  groupOfSlot,
  MAX_SLOT,
  nextGroupId,
  nodeIdProblem,
  rangeOfSlot,
  rangesOf,
  SLOT_COUNT,
  type SlotMap,
  slotCountOf,
} from '../../src/shard/slot-map.ts';
import { SplitMix32 } from '../support/splitmix32.ts';

const g = (id: number, voters: string[], leaderHint?: string, learners: string[] = []) =>
  leaderHint === undefined ? { id, voters, learners } : { id, voters, learners, leaderHint };

/** A valid map: group 0 on n1..n3, group 1 owning 0-99 and 200-16383, group 2 owning 100-199. */
function sample(): SlotMap {
  return {
    epoch: 4,
    groups: [g(0, ['n1', 'n2', 'n3'], 'n1'), g(1, ['n1', 'n2'], 'n2', ['n4']), g(2, ['n3'])],
    ranges: [
      { start: 0, end: 99, group: 1 },
      { start: 100, end: 199, group: 2 },
      { start: 200, end: MAX_SLOT, group: 1 },
    ],
  };
}

describe('slot map', () => {
  it('is pure: no clock, no Math.random, no I/O, and imports only raft types and the byte codec', () => {
    const dir = new URL('../../src/shard/', import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    expect(files).toContain('ops.ts');
    for (const file of files) {
      // Comments may name what the code must not use; the code may not use it.
      const code = readFileSync(new URL(file, dir), 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
      expect(code, file).not.toMatch(/Date\.now|new Date|Math\.random|performance\.|process\.|setTimeout|setImmediate|crypto/);
      for (const [, from] of code.matchAll(/from '([^']+)'/g)) {
        expect(['../raft/types.ts', '../transport/bytes.ts'].includes(from) || /^\.\/[a-z-]+\.ts$/.test(from), `${file} imports ${from}`).toBe(true);
      }
    }
  });

  it('agrees with the RESP front end on the slot count and with the runtime on node ids', () => {
    expect(SLOT_COUNT).toBe(RESP_SLOT_COUNT);
    for (const id of ['n1', 'node-1.a_b', 'x'.repeat(64), 'x'.repeat(65), '', 'a b', 'é', 'n1\n', 7, undefined]) {
      expect(nodeIdProblem(id) === undefined, String(id)).toBe(runtimeNodeIdProblem(id) === undefined);
    }
  });

  it('looks up the owner of every slot by binary search, matching a linear scan', () => {
    // 1000 ranges over 6 groups, cut at seeded random points.
    const rnd = new SplitMix32(7);
    const cuts = new Set<number>();
    while (cuts.size < 999) cuts.add(rnd.int(1, MAX_SLOT));
    const starts = [0, ...[...cuts].sort((a, b) => a - b)];
    const ranges = starts.map((start, i) => ({ start, end: (starts[i + 1] ?? SLOT_COUNT) - 1, group: 1 + (i % 6) }));
    const map: SlotMap = { epoch: 1, ranges, groups: [0, 1, 2, 3, 4, 5, 6].map((id) => g(id, ['n1'])) };
    expect(checkMap(map)).toBeUndefined();
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      const linear = ranges.find((r) => r.start <= slot && slot <= r.end)!;
      expect(rangeOfSlot(map, slot)).toBe(linear);
    }
    expect(groupOfSlot(map, keyHashSlot('{user}:1'))).toBe(groupOfSlot(map, keyHashSlot('{user}:2')));
    for (const bad of [-1, SLOT_COUNT, 1.5, Number.NaN]) expect(() => rangeOfSlot(map, bad)).toThrow(RangeError);
  });

  it('answers group lookups, ranges, slot counts and the next free group id', () => {
    const map = sample();
    expect(checkMap(map)).toBeUndefined();
    expect(findGroup(map, 2)?.voters).toEqual(['n3']);
    expect(findGroup(map, 3)).toBeUndefined();
    expect(rangesOf(map, 1).map((r) => [r.start, r.end])).toEqual([
      [0, 99],
      [200, MAX_SLOT],
    ]);
    expect(slotCountOf(map, 1) + slotCountOf(map, 2)).toBe(SLOT_COUNT);
    expect(slotCountOf(map, 0)).toBe(0);
    expect(nextGroupId(map)).toBe(3);
    expect(nextGroupId(initialLayout(['n1'], 9))).toBe(10);
  });

  it('names each broken invariant', () => {
    const broken: [string, (m: SlotMap) => SlotMap, RegExp][] = [
      ['gap', (m) => ({ ...m, ranges: [m.ranges[0], { ...m.ranges[1], start: 101 }, m.ranges[2]] }), /slot 100 is unowned/],
      ['overlap', (m) => ({ ...m, ranges: [m.ranges[0], { ...m.ranges[1], start: 99 }, m.ranges[2]] }), /slot 100 is owned twice/],
      ['slot 0', (m) => ({ ...m, ranges: m.ranges.slice(1) }), /slot 0 has no owner/],
      ['last slot', (m) => ({ ...m, ranges: [...m.ranges.slice(0, 2), { ...m.ranges[2], end: MAX_SLOT - 1 }] }), /slot 16383 is unowned/],
      ['past the end', (m) => ({ ...m, ranges: [...m.ranges.slice(0, 2), { ...m.ranges[2], end: SLOT_COUNT }] }), /not a slot range/],
      ['no ranges', (m) => ({ ...m, ranges: [] }), /no slot ranges/],
      ['group 0 owns', (m) => ({ ...m, ranges: [m.ranges[0], { ...m.ranges[1], group: 0 }, m.ranges[2]] }), /metadata group/],
      ['unknown group', (m) => ({ ...m, ranges: [m.ranges[0], { ...m.ranges[1], group: 9 }, m.ranges[2]] }), /unknown group 9/],
      ['not joined', (m) => ({ ...m, ranges: [m.ranges[0], { ...m.ranges[1], group: 1 }, m.ranges[2]] }), /not joined/],
      ['no group 0', (m) => ({ ...m, groups: m.groups.slice(1) }), /no metadata group 0/],
      ['unsorted', (m) => ({ ...m, groups: [m.groups[0], m.groups[2], m.groups[1]] }), /not sorted/],
      ['no voter', (m) => ({ ...m, groups: [m.groups[0], m.groups[1], g(2, [])] }), /group 2 has no voter/],
      ['twice', (m) => ({ ...m, groups: [m.groups[0], g(1, ['n1', 'n2'], 'n1', ['n2']), m.groups[2]] }), /lists node n2 twice/],
      ['hint', (m) => ({ ...m, groups: [m.groups[0], g(1, ['n1'], 'n4', ['n4']), m.groups[2]] }), /leader hint n4 is not one of its voters/],
      ['bad id', (m) => ({ ...m, groups: [m.groups[0], g(1, ['n 1']), m.groups[2]] }), /invalid node id/],
      ['epoch', (m) => ({ ...m, epoch: -1 }), /epoch/],
      ['group id', (m) => ({ ...m, groups: [...m.groups, g(2 ** 32, ['n1'])] }), /not a uint32/],
    ];
    for (const [name, breakIt, message] of broken) expect(checkMap(breakIt(sample())), name).toMatch(message);
  });
});
