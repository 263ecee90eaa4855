/**
 * The slot map codec: round trips, the exact bytes of a small map, and hostile input (every
 * truncation, trailing bytes, a bad version or kind, seeded mutations and random bytes, huge
 * counts) failing only with a CodecError, before allocating for what the input announces.
 */
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { CodecError, CodecErrorReason, decodeMap, decodeOp, encodeMap, encodeOp } from '../../src/shard/codec.ts';
import { initialLayout } from '../../src/shard/layout.ts';
import { apply, SHARD_OP, type ShardOp, type ShardOpBody } from '../../src/shard/ops.ts';
import { MAX_SLOT, type SlotMap } from '../../src/shard/slot-map.ts';
import { SplitMix32 } from '../support/splitmix32.ts';

const everyOp: ShardOp[] = [
  { type: 'createGroup', epoch: 0, group: 2 ** 32 - 1, voters: ['n1', 'node-2.example_x'] },
  { type: 'createGroup', epoch: Number.MAX_SAFE_INTEGER, group: 7, voters: ['a', 'b', 'c'], leaderHint: 'c' },
  { type: 'split', epoch: 12, group: 3, atSlot: MAX_SLOT, newGroup: 2 ** 32 - 1 },
  { type: 'addLearner', epoch: 1, group: 0, node: 'n4' },
  { type: 'promote', epoch: 2, group: 1, node: 'x'.repeat(64) },
  { type: 'removeReplica', epoch: 3, group: 1, node: 'n1' },
  { type: 'setLeaderHint', epoch: 4, group: 300, node: 'n2' },
];

/** A map with learners, a group without a hint and several ranges per group. */
function richMap(): SlotMap {
  let map = initialLayout(['n1', 'n2', 'n3', 'n4', 'n5'], 4);
  const ops: ShardOpBody[] = [
    { type: 'addLearner', group: 2, node: 'n3' },
    { type: 'removeReplica', group: 3, node: findHint(map, 3) },
    { type: 'split', group: 1, atSlot: 1000, newGroup: 9 },
    { type: 'createGroup', group: 12, voters: ['n4'] },
  ];
  for (const op of ops) {
    const res = apply(map, { ...op, epoch: map.epoch } as ShardOp);
    expect(res.error).toBeUndefined();
    map = res.map;
  }
  return map;
}

function findHint(map: SlotMap, id: number): string {
  return map.groups.find((g) => g.id === id)!.leaderHint!;
}

function reasonOf(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    if (err instanceof CodecError) return err.reason;
    throw err;
  }
  return 'decoded';
}

describe('slot map codec', () => {
  it('round-trips maps: a layout, learners, a group with no hint, many groups', () => {
    for (const map of [initialLayout(['n1'], 1), initialLayout(['n1', 'n2', 'n3'], 3), richMap(), initialLayout(['a', 'b', 'c', 'd', 'e'], 500)]) {
      expect(decodeMap(encodeMap(map))).toEqual(map);
    }
    expect(richMap().groups.some((g) => g.leaderHint === undefined && g.id === 3)).toBe(true);
  });

  it('round-trips every op', () => {
    expect(new Set(everyOp.map((op) => op.type))).toEqual(new Set(Object.keys(SHARD_OP)));
    for (const op of everyOp) expect(decodeOp(encodeOp(op))).toEqual(op);
  });

  it('is compact: the exact bytes of a 3-group map, 52 bytes; a replica op, 8', () => {
    const bytes = encodeMap(initialLayout(['n1', 'n2', 'n3'], 3));
    expect([...bytes]).toEqual([
      1,
      0,
      1, // version, kind map, epoch 1
      3,
      2,
      0x6e,
      0x31,
      2,
      0x6e,
      0x32,
      2,
      0x6e,
      0x33, // nodes n1 n2 n3
      4, // groups: id, voters (node#), learners, hint (1 + voter index)
      0,
      3,
      0,
      1,
      2,
      0,
      1,
      1,
      3,
      0,
      1,
      2,
      0,
      1,
      2,
      3,
      1,
      2,
      0,
      0,
      1,
      3,
      3,
      2,
      0,
      1,
      0,
      1,
      3,
      0xd4,
      0x2a,
      1,
      0xaa,
      0x55,
      2,
      0xff,
      0x7f,
      3, // ranges: end 5460 g1, 10922 g2, 16383 g3
    ]);
    expect(bytes.length).toBe(52);
    expect(encodeOp({ type: 'addLearner', epoch: 200, group: 2, node: 'n4' }).length).toBe(8);
  });

  it('names the failure: version, bad type, truncated, malformed', () => {
    const map = encodeMap(initialLayout(['n1', 'n2', 'n3'], 3));
    const op = encodeOp(everyOp[3]);
    const edited = (b: Uint8Array, at: number, v: number) => {
      const c = Buffer.from(b);
      c[at] = v;
      return c;
    };
    expect(reasonOf(() => decodeMap(edited(map, 0, 2)))).toBe(CodecErrorReason.Version);
    expect(reasonOf(() => decodeOp(edited(op, 0, 0)))).toBe(CodecErrorReason.Version);
    expect(reasonOf(() => decodeMap(op))).toBe(CodecErrorReason.BadType);
    expect(reasonOf(() => decodeOp(map))).toBe(CodecErrorReason.BadType);
    expect(reasonOf(() => decodeOp(edited(op, 1, 99)))).toBe(CodecErrorReason.BadType);
    expect(reasonOf(() => decodeMap(new Uint8Array(0)))).toBe(CodecErrorReason.Truncated);
    expect(reasonOf(() => decodeMap(Buffer.concat([map, Buffer.from([0])])))).toBe(CodecErrorReason.Malformed);
    expect(reasonOf(() => decodeOp(Buffer.concat([op, Buffer.from([0])])))).toBe(CodecErrorReason.Malformed);
    // Structurally sound, semantically broken: a hint past the voters, a node index past the
    // table, a range owned by group 0, the last range short of slot 16383.
    expect(() => decodeMap(edited(map, 20, 4))).toThrow(/leader hint 4 of 3 voters/);
    expect(() => decodeMap(edited(map, 16, 3))).toThrow(/node #3 of 3/);
    expect(() => decodeMap(edited(map, 45, 0))).toThrow(/metadata group/);
    expect(() => decodeMap(edited(map, 50, 0x7e))).toThrow(/slot 16256 is unowned/);
    expect(() => decodeMap(edited(map, 9, 0x31))).toThrow(/listed twice/);
  });

  it('fails every truncation of a map and of each op with a CodecError', () => {
    for (const bytes of [encodeMap(richMap()), ...everyOp.map(encodeOp)]) {
      for (let cut = 0; cut < bytes.length; cut++) {
        expect(reasonOf(() => (bytes[1] === 0 ? decodeMap : decodeOp)(bytes.subarray(0, cut)))).not.toBe('decoded');
      }
    }
  });

  it('refuses counts larger than the input at once, and numbers out of range', () => {
    // A map announcing 2^49 nodes, and one announcing 2^49 ranges after a valid head.
    const huge = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01];
    expect(reasonOf(() => decodeMap(Buffer.from([1, 0, 1, ...huge])))).toBe(CodecErrorReason.Truncated);
    const map = encodeMap(initialLayout(['n1', 'n2', 'n3'], 3));
    expect(reasonOf(() => decodeMap(Buffer.concat([map.subarray(0, 42), Buffer.from(huge)])))).toBe(CodecErrorReason.Truncated);
    expect(reasonOf(() => decodeOp(Buffer.from([1, 1, 0, 5, ...huge])))).toBe(CodecErrorReason.Truncated);
    // A varint past 2^53, and a group id past 2^32.
    expect(reasonOf(() => decodeOp(Buffer.from([1, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])))).toBe(CodecErrorReason.Malformed);
    expect(() => decodeOp(Buffer.from([1, 3, 0, 0x80, 0x80, 0x80, 0x80, 0x10, 2, 0x6e, 0x31]))).toThrow(/group 4294967296 is not a uint32/);
  });

  it('mutated valid input and random bytes only ever raise CodecError or decode (seeded)', () => {
    const valid = [encodeMap(richMap()), encodeMap(initialLayout(['n1', 'n2', 'n3'], 9)), ...everyOp.map(encodeOp)];
    const rnd = new SplitMix32(42);
    let decoded = 0;
    const failures: string[] = [];
    const tryDecode = (b: Uint8Array) => {
      for (const decode of [decodeMap, decodeOp]) {
        try {
          decode(b);
          decoded++;
        } catch (err) {
          if (!(err instanceof CodecError)) failures.push(`${(err as Error).name}: ${(err as Error).message} on ${Buffer.from(b).toString('hex')}`);
        }
      }
    };
    for (let i = 0; i < 20_000; i++) {
      const b = Buffer.from(valid[rnd.int(0, valid.length - 1)]);
      for (let k = rnd.int(1, 4); k > 0; k--) {
        const at = rnd.int(0, b.length - 1);
        const how = rnd.next();
        if (how < 0.6) b[at] = rnd.int(0, 255);
        else if (how < 0.8) b[at] ^= 1 << rnd.int(0, 7);
        else b[at] = 0xff;
      }
      tryDecode(b.subarray(0, rnd.chance(0.2) ? rnd.int(0, b.length) : b.length));
    }
    for (let i = 0; i < 5_000; i++) tryDecode(Buffer.from(Array.from({ length: rnd.int(0, 40) }, () => rnd.int(0, 255))));
    expect(failures.slice(0, 5)).toEqual([]);
    // Some mutations land in ids and epochs and still decode: the fuzzing reached the deep fields.
    expect(decoded).toBeGreaterThan(500);
  });

  it('refuses to encode what it could not decode', () => {
    const map = initialLayout(['n1', 'n2', 'n3'], 3);
    expect(() => encodeMap({ ...map, ranges: map.ranges.slice(1) })).toThrow(CodecError);
    expect(() => encodeOp({ type: 'addLearner', epoch: 1, group: 1, node: 'x'.repeat(2000) })).toThrow(CodecError);
    expect(() => encodeOp({ type: 'addLearner', epoch: -1, group: 1, node: 'n1' })).toThrow(CodecError);
    expect(() => encodeOp({ type: 'split', epoch: 1, group: 2 ** 32, atSlot: 5, newGroup: 3 })).toThrow(CodecError);
    expect(() => encodeOp({ type: 'createGroup', epoch: 1, group: 5, voters: ['n1'], leaderHint: 'n2' })).toThrow(CodecError);
    expect(() => encodeOp({ type: 'toString', epoch: 1, group: 5 } as unknown as ShardOp)).toThrow(CodecError);
  });
});
