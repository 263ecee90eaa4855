/**
 * Slot map changes: each op's effect, each refusal's text, the epoch compare-and-set, apply's
 * totality on garbage, and a seeded property run in which every slot has exactly one owner at
 * every epoch and only a split changes an owner (parent to new group, from its split slot up).
 */
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { decodeMap, decodeOp, encodeMap, encodeOp } from '../../src/shard/codec.ts';
import { initialLayout } from '../../src/shard/layout.ts';
import { apply, SHARD_OP, type ShardOp, type ShardOpName, validate } from '../../src/shard/ops.ts';
import { checkMap, findGroup, groupOfSlot, joinRanges, MAX_SLOT, nextGroupId, SLOT_COUNT, type SlotMap } from '../../src/shard/slot-map.ts';
import { SplitMix32 } from '../support/splitmix32.ts';

/** Group 0 and groups 1..3 on n1..n3, leaders n1, n2, n3; slots 0-5460, 5461-10922, 10923-16383. */
const base = () => initialLayout(['n1', 'n2', 'n3'], 3);

function ok(map: SlotMap, op: ShardOp): SlotMap {
  const res = apply(map, op);
  expect(res.error).toBeUndefined();
  expect(checkMap(res.map)).toBeUndefined();
  return res.map;
}

function refused(map: SlotMap, op: ShardOp, message: RegExp): void {
  const res = apply(map, op);
  expect(res.error).toMatch(message);
  expect(res.map).toBe(map);
  expect(validate(map, op)).toBe(res.error);
}

describe('slot map ops', () => {
  it('split gives the new group every slot of the parent from atSlot up, on the parent replicas', () => {
    let map = base();
    map = ok(map, { type: 'split', epoch: 1, group: 2, atSlot: 8000, newGroup: 4 });
    expect(map.epoch).toBe(2);
    expect(map.ranges.map((r) => `${r.start}-${r.end}:${r.group}`)).toEqual(['0-5460:1', '5461-7999:2', '8000-10922:4', '10923-16383:3']);
    expect(findGroup(map, 4)).toEqual({ ...findGroup(map, 2), id: 4 });
    map = ok(map, { type: 'split', epoch: 2, group: 4, atSlot: 9000, newGroup: 5 });
    map = ok(map, { type: 'split', epoch: 3, group: 2, atSlot: 6000, newGroup: 6 });
    expect(map.ranges.map((r) => `${r.start}-${r.end}:${r.group}`)).toEqual([
      '0-5460:1',
      '5461-5999:2',
      '6000-7999:6',
      '8000-8999:4',
      '9000-10922:5',
      '10923-16383:3',
    ]);
    expect(nextGroupId(map)).toBe(7);
  });

  it('split records the configuration the split entry gave the new group, when the map has moved on since', () => {
    // Group 2 is on n2, n3, n1 in the map, but at its split entry it was on n1, n2, n4 (a move
    // recorded in between): the new group must be on n1, n2, n4, or n3 would drop a replica its
    // group never had and n4 would keep one the map does not know (simulator seed 78).
    const map = ok(base(), { type: 'split', epoch: 1, group: 2, atSlot: 8000, newGroup: 4, voters: ['n1', 'n2', 'n4'], learners: [] });
    expect(findGroup(map, 4)).toEqual({ id: 4, voters: ['n1', 'n2', 'n4'], learners: [], leaderHint: 'n2' });
    const moved = ok(base(), { type: 'split', epoch: 1, group: 3, atSlot: 12000, newGroup: 4, voters: ['n1', 'n4'], learners: ['n5'] });
    // The parent's hint (n3) is not a voter of the new group: its first voter leads.
    expect(findGroup(moved, 4)).toEqual({ id: 4, voters: ['n1', 'n4'], learners: ['n5'], leaderHint: 'n1' });
    refused(base(), { type: 'split', epoch: 1, group: 2, atSlot: 8000, newGroup: 4, voters: [], learners: [] }, /names no voter/);
    refused(base(), { type: 'split', epoch: 1, group: 2, atSlot: 8000, newGroup: 4, voters: ['n1', 'n1'] }, /names a node twice/);
  });

  it('splits a group of several ranges at a range start, inside a range, and between ranges', () => {
    // Group 1 owns 0-99, 200-299 and 400-16383 (a map built by hand: splits alone keep one range).
    const map: SlotMap = {
      epoch: 1,
      groups: [0, 1, 2].map((id) => ({ id, voters: ['n1'], learners: [] })),
      ranges: [
        { start: 0, end: 99, group: 1 },
        { start: 100, end: 199, group: 2 },
        { start: 200, end: 299, group: 1 },
        { start: 300, end: 399, group: 2 },
        { start: 400, end: MAX_SLOT, group: 1 },
      ],
    };
    const shown = (m: SlotMap) => m.ranges.map((r) => `${r.start}-${r.end}:${r.group}`).join(' ');
    const split = (atSlot: number) => ok(map, { type: 'split', epoch: 1, group: 1, atSlot, newGroup: 3 });
    expect(shown(split(200))).toBe('0-99:1 100-199:2 200-299:3 300-399:2 400-16383:3');
    expect(shown(split(250))).toBe('0-99:1 100-199:2 200-249:1 250-299:3 300-399:2 400-16383:3');
    expect(shown(split(150))).toBe('0-99:1 100-199:2 200-299:3 300-399:2 400-16383:3');
    expect(shown(split(100))).toBe('0-99:1 100-199:2 200-299:3 300-399:2 400-16383:3');
    expect(shown(split(99))).toBe('0-98:1 99-99:3 100-199:2 200-299:3 300-399:2 400-16383:3');
    refused(map, { type: 'split', epoch: 1, group: 2, atSlot: 100, newGroup: 3 }, /group 2 owns no slot below 100/);
    expect(shown(ok(map, { type: 'split', epoch: 1, group: 2, atSlot: 300, newGroup: 3 }))).toBe('0-99:1 100-199:2 200-299:1 300-399:3 400-16383:1');
  });

  it('split refuses slot 0, slots out of range, empty halves, the metadata group and used ids', () => {
    const map = base();
    const split = (atSlot: number, group = 2, newGroup = 4): ShardOp => ({ type: 'split', epoch: 1, group, atSlot, newGroup });
    refused(map, split(0, 1), /Invalid or out of range slot 0/);
    refused(map, split(SLOT_COUNT), /Invalid or out of range slot 16384/);
    refused(map, split(1.5), /Invalid or out of range slot 1.5/);
    refused(map, split(5461), /group 2 owns no slot below 5461: nothing would stay in it/);
    refused(map, split(11000), /group 2 owns no slot from 11000 up: nothing would move to the new group/);
    refused(map, split(100, 0), /group 0 is the metadata group: it owns no slots/);
    refused(map, split(6000, 2, 3), /group 3 already exists/);
    refused(map, split(6000, 2, 0), /invalid group id 0/);
    refused(map, split(6000, 2, 2 ** 32), /invalid group id 4294967296/);
    refused(map, split(6000, 9), /unknown group 9/);
    ok(map, split(5462));
    ok(map, split(10922));
  });

  it('moves a replica by learner, promote and remove, and refuses each step out of order', () => {
    let map = base();
    refused(map, { type: 'promote', epoch: 1, group: 1, node: 'n4' }, /node n4 is not a learner of group 1/);
    map = ok(map, { type: 'addLearner', epoch: 1, group: 1, node: 'n4' });
    expect(findGroup(map, 1)).toMatchObject({ voters: ['n1', 'n2', 'n3'], learners: ['n4'] });
    refused(map, { type: 'addLearner', epoch: 2, group: 1, node: 'n4' }, /node n4 is already a learner of group 1/);
    refused(map, { type: 'addLearner', epoch: 2, group: 1, node: 'n2' }, /node n2 is already a voter of group 1/);
    refused(map, { type: 'setLeaderHint', epoch: 2, group: 1, node: 'n4' }, /node n4 is not a voter of group 1/);
    map = ok(map, { type: 'promote', epoch: 2, group: 1, node: 'n4' });
    refused(map, { type: 'promote', epoch: 3, group: 1, node: 'n4' }, /node n4 is already a voter of group 1/);
    map = ok(map, { type: 'removeReplica', epoch: 3, group: 1, node: 'n1' });
    expect(findGroup(map, 1)).toEqual({ id: 1, voters: ['n2', 'n3', 'n4'], learners: [] });
    // n1 was the hinted leader: the hint is cleared rather than left pointing at a node that left.
    expect(findGroup(map, 1)?.leaderHint).toBeUndefined();
    refused(map, { type: 'removeReplica', epoch: 4, group: 1, node: 'n1' }, /node n1 is not a replica of group 1/);
    map = ok(map, { type: 'removeReplica', epoch: 4, group: 1, node: 'n2' });
    map = ok(map, { type: 'removeReplica', epoch: 5, group: 1, node: 'n3' });
    refused(map, { type: 'removeReplica', epoch: 6, group: 1, node: 'n4' }, /node n4 is the last voter of group 1: add another voter first/);
    refused(map, { type: 'addLearner', epoch: 6, group: 1, node: 'bad id' }, /invalid node id "bad id"/);
    expect(map.epoch).toBe(6);
  });

  it('a leader hint set to what it is changes nothing, not even the epoch', () => {
    const map = base();
    const same = apply(map, { type: 'setLeaderHint', epoch: 1, group: 2, node: 'n2' });
    expect(same).toEqual({ map });
    expect(same.map).toBe(map);
    const moved = ok(map, { type: 'setLeaderHint', epoch: 1, group: 2, node: 'n3' });
    expect([moved.epoch, findGroup(moved, 2)?.leaderHint]).toEqual([2, 'n3']);
  });

  it('creates an empty group and refuses a bad one', () => {
    const map = base();
    const created = ok(map, { type: 'createGroup', epoch: 1, group: 7, voters: ['n2', 'n3'], leaderHint: 'n3' });
    expect(findGroup(created, 7)).toEqual({ id: 7, voters: ['n2', 'n3'], learners: [], leaderHint: 'n3' });
    expect(created.ranges).toBe(map.ranges);
    expect(nextGroupId(created)).toBe(8);
    refused(map, { type: 'createGroup', epoch: 1, group: 3, voters: ['n1'] }, /group 3 already exists/);
    refused(map, { type: 'createGroup', epoch: 1, group: 7, voters: [] }, /invalid group: group 7 has no voter/);
    refused(map, { type: 'createGroup', epoch: 1, group: 7, voters: ['n1', 'n1'] }, /lists node n1 twice/);
    refused(map, { type: 'createGroup', epoch: 1, group: 7, voters: ['n1'], leaderHint: 'n2' }, /leader hint n2 is not one of its voters/);
    const many = Array.from({ length: 33 }, (_, i) => `n${i}`);
    refused(map, { type: 'createGroup', epoch: 1, group: 7, voters: many }, /33 replicas, at most 32/);
  });

  it('refuses every op planned against another epoch (compare-and-set)', () => {
    const map = ok(base(), { type: 'setLeaderHint', epoch: 1, group: 1, node: 'n2' });
    const stale: ShardOp[] = [
      { type: 'createGroup', epoch: 1, group: 9, voters: ['n1'] },
      { type: 'split', epoch: 1, group: 1, atSlot: 100, newGroup: 4 },
      { type: 'addLearner', epoch: 1, group: 1, node: 'n4' },
      { type: 'promote', epoch: 3, group: 1, node: 'n4' },
      { type: 'removeReplica', epoch: 0, group: 1, node: 'n1' },
      { type: 'setLeaderHint', epoch: 1, group: 1, node: 'n2' },
    ];
    expect(new Set(stale.map((op) => op.type))).toEqual(new Set(Object.keys(SHARD_OP)));
    for (const op of stale) {
      refused(map, op, new RegExp(`stale slot map epoch: the change was planned at epoch ${op.epoch}, the map is at epoch 2; plan it again`));
    }
  });

  it('is total: garbage never throws, is refused and leaves the map as it was', () => {
    const map = base();
    const junk: unknown[] = [
      null,
      undefined,
      42,
      'split',
      {},
      { type: 'toString', epoch: 1, group: 1 },
      { type: '__proto__', epoch: 1 },
      { type: 'split', epoch: 1 },
      { type: 'split', epoch: 1, group: 1, atSlot: '100', newGroup: 4 },
      { type: 'split', epoch: 1, group: -1, atSlot: 100, newGroup: 4 },
      { type: 'addLearner', epoch: 1, group: 1, node: 5 },
      { type: 'addLearner', epoch: 1, group: 1, node: 'x'.repeat(100_000) },
      { type: 'addLearner', epoch: '1', group: 1, node: 'n4' },
      { type: 'createGroup', epoch: 1, group: 5, voters: 'n1' },
      { type: 'createGroup', epoch: 1, group: 5, voters: [1, 2] },
      { type: 'createGroup', epoch: 1, group: 5, voters: Array(100_000).fill('n1') },
      { type: 'setLeaderHint', epoch: 1, group: Number.NaN, node: 'n1' },
      { type: 'split', epoch: Symbol('e'), group: 1 },
      { type: 'split', epoch: 1, group: Symbol('g') },
      { type: 'split', epoch: 1, group: 1, atSlot: Symbol('s'), newGroup: 4 },
      { type: 'promote', epoch: 1, group: 1, node: Symbol('n') },
      {
        type: 'promote',
        epoch: {
          toString: () => {
            throw new Error('no');
          },
        },
        group: 1,
      },
      { type: 'createGroup', epoch: 1, group: 9, voters: [{}], leaderHint: Symbol('h') },
      {
        type: 'addLearner',
        epoch: 1,
        get group() {
          throw new Error('a getter that throws');
        },
      },
    ];
    for (const op of junk) {
      const res = apply(map, op as ShardOp);
      expect(res.map).toBe(map);
      expect(typeof res.error).toBe('string');
      expect(res.error!.length).toBeLessThan(200);
    }
  });

  it('keeps every slot owned exactly once at every epoch under seeded random ops (property)', () => {
    const pool = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7'];
    const counts = { applied: new Map<ShardOpName, number>(), refused: 0, noop: 0 };
    // Plain checks in the loop (an expect per step would dominate the run); one expect at the end.
    const violations: string[] = [];
    for (let seed = 1; seed <= 20; seed++) {
      const rnd = new SplitMix32(seed);
      let map = seed % 2 ? initialLayout(pool.slice(0, rnd.int(1, 5)), rnd.int(1, 9), rnd.int(1, 4)) : interleaved(rnd, pool);
      let owner = ownerTable(map);
      for (let step = 0; step < 400 && violations.length === 0; step++) {
        const op = randomOp(rnd, map, pool);
        const at = `seed ${seed} step ${step} ${JSON.stringify(op)}`;
        const res = apply(map, op);
        if (res.error !== undefined) {
          if (res.map !== map) violations.push(`${at}: refused but changed the map`);
          counts.refused++;
          continue;
        }
        const problem = checkMap(res.map);
        if (problem) violations.push(`${at}: ${problem}`);
        const next = ownerTable(res.map);
        for (let slot = 0; slot < SLOT_COUNT; slot++) {
          if (next[slot] === owner[slot]) continue;
          // Only a split moves a slot, and only from the parent to the new group, from atSlot up.
          if (op.type !== 'split' || owner[slot] !== op.group || next[slot] !== op.newGroup || slot < op.atSlot) {
            violations.push(`${at}: slot ${slot} moved from group ${owner[slot]} to ${next[slot]}`);
            break;
          }
        }
        if (res.map === map) {
          if (op.type !== 'setLeaderHint') violations.push(`${at}: applied without a change`);
          counts.noop++;
        } else {
          if (res.map.epoch !== map.epoch + 1) violations.push(`${at}: epoch ${map.epoch} -> ${res.map.epoch}`);
          counts.applied.set(op.type, (counts.applied.get(op.type) ?? 0) + 1);
        }
        // The snapshot and the log entry round-trip at every epoch (compared whole every 25th).
        const bytes = encodeMap(res.map);
        const decoded = decodeMap(bytes);
        if (Buffer.compare(encodeMap(decoded), bytes) !== 0) violations.push(`${at}: map codec round trip differs`);
        if (step % 25 === 0) expect(decoded).toEqual(res.map);
        if (Buffer.compare(encodeOp(decodeOp(encodeOp(op))), encodeOp(op)) !== 0) violations.push(`${at}: op codec round trip differs`);
        map = res.map;
        owner = next;
      }
    }
    expect(violations).toEqual([]);
    // Every op type was exercised, and refusals were common but not everything.
    for (const type of Object.keys(SHARD_OP) as ShardOpName[]) expect(counts.applied.get(type) ?? 0, type).toBeGreaterThan(20);
    expect(counts.refused).toBeGreaterThan(1000);
    expect(counts.noop).toBeGreaterThan(0);
  });
});

describe('group 0 as a state machine', () => {
  it('replicas applying the same log, from the start or from a snapshot, hold byte-identical maps', () => {
    const pool = ['n1', 'n2', 'n3', 'n4', 'n5'];
    for (let seed = 100; seed < 110; seed++) {
      const rnd = new SplitMix32(seed);
      const initial = encodeMap(initialLayout(pool.slice(0, 3), rnd.int(1, 6)));
      // The leader's log: encoded ops, planned against the leader's map (some refused at apply).
      const log: Uint8Array[] = [];
      let leader = decodeMap(initial);
      for (let i = 0; i < 200; i++) {
        const op = randomOp(rnd, leader, pool);
        log.push(encodeOp(op));
        leader = apply(leader, op).map;
      }
      const from = (snapshotAt: number) => {
        let map = decodeMap(initial);
        for (let i = 0; i < log.length; i++) {
          // A replica that installs a snapshot at snapshotAt: the encoded map, decoded again.
          if (i === snapshotAt) map = decodeMap(encodeMap(map));
          map = apply(map, decodeOp(log[i])).map;
        }
        return Buffer.from(encodeMap(map)).toString('hex');
      };
      const expected = Buffer.from(encodeMap(leader)).toString('hex');
      for (const at of [-1, 0, rnd.int(1, 199), 199]) expect(from(at), `seed ${seed}, snapshot at ${at}`).toBe(expected);
    }
  });
});

/** Each slot's owner, from the ranges; spot-checked against the lookup routing uses. */
function ownerTable(map: SlotMap): Uint32Array {
  const t = new Uint32Array(SLOT_COUNT);
  for (const r of map.ranges) t.fill(r.group, r.start, r.end + 1);
  for (const slot of [0, 5460, 5461, 8191, MAX_SLOT]) {
    if (groupOfSlot(map, slot) !== t[slot]) throw new Error(`groupOfSlot(${slot}) disagrees with the ranges`);
  }
  return t;
}

/** A valid map whose groups own many interleaved ranges (splits alone leave each group one). */
function interleaved(rnd: SplitMix32, pool: string[]): SlotMap {
  const groups = rnd.int(2, 6);
  const cuts = new Set<number>();
  for (let i = rnd.int(1, 40); i > 0; i--) cuts.add(rnd.int(1, MAX_SLOT));
  const starts = [0, ...[...cuts].sort((a, b) => a - b)];
  const ranges = starts.map((start, i) => ({ start, end: (starts[i + 1] ?? SLOT_COUNT) - 1, group: rnd.int(1, groups) }));
  const voters = pool.slice(0, 3);
  const map: SlotMap = {
    epoch: rnd.int(1, 1000),
    ranges: joinRanges(ranges),
    groups: Array.from({ length: groups + 1 }, (_, id) => ({ id, voters, learners: [], leaderHint: voters[id % 3] })),
  };
  expect(checkMap(map)).toBeUndefined();
  return map;
}

/** A plausible op, often invalid: stale epochs, unknown groups, nodes in the wrong state. */
function randomOp(rnd: SplitMix32, map: SlotMap, pool: string[]): ShardOp {
  const epoch = rnd.chance(0.9) ? map.epoch : rnd.int(0, map.epoch + 2);
  const ids = map.groups.map((g) => g.id);
  const group = rnd.chance(0.95) ? ids[rnd.int(0, ids.length - 1)] : rnd.int(0, ids[ids.length - 1] + 3);
  const node = pool[rnd.int(0, pool.length - 1)];
  const found = findGroup(map, group);
  switch (rnd.int(0, 6)) {
    case 0:
      return { type: 'createGroup', epoch, group: nextGroupId(map), voters: [node] };
    case 1:
    case 2: {
      // Half the time an edge of one of the group's ranges, where off-by-one mistakes live.
      const own = map.ranges.filter((r) => r.group === group);
      const edge = own.length > 0 && rnd.chance(0.5) ? own[rnd.int(0, own.length - 1)] : undefined;
      const atSlot = edge ? [edge.start, edge.end, edge.end + 1][rnd.int(0, 2)] : rnd.int(0, MAX_SLOT);
      return { type: 'split', epoch, group, atSlot, newGroup: rnd.chance(0.9) ? nextGroupId(map) : group };
    }
    case 3:
      return { type: 'addLearner', epoch, group, node };
    case 4:
      return { type: 'promote', epoch, group, node: found?.learners[0] ?? node };
    case 5:
      return { type: 'removeReplica', epoch, group, node };
    default:
      return { type: 'setLeaderHint', epoch, group, node: rnd.chance(0.7) && found ? found.voters[rnd.int(0, found.voters.length - 1)] : node };
  }
}
