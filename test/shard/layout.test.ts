/**
 * The initial layout: slots cut exactly as redis-cli 7.0 cuts them, and replicas and leaders
 * even across nodes for 1..9 groups over 3..5 nodes.
 */
import { describe, expect, it } from 'vitest';
import { evenSlotRanges, INITIAL_EPOCH, initialLayout } from '../../src/shard/layout.ts';
import { checkMap, METADATA_GROUP, SLOT_COUNT, slotCountOf } from '../../src/shard/slot-map.ts';

/**
 * What `redis-cli --cluster create` (redis-cli 7.0.15) printed as "Master[i] -> Slots a - b" for
 * N fresh cluster-enabled redis-servers on loopback, N = 3..9 (it needs at least 3 masters).
 */
const REDIS_CLI = {
  3: '0 - 5460,5461 - 10922,10923 - 16383',
  4: '0 - 4095,4096 - 8191,8192 - 12287,12288 - 16383',
  5: '0 - 3276,3277 - 6553,6554 - 9829,9830 - 13106,13107 - 16383',
  6: '0 - 2730,2731 - 5460,5461 - 8191,8192 - 10922,10923 - 13652,13653 - 16383',
  7: '0 - 2340,2341 - 4680,4681 - 7021,7022 - 9361,9362 - 11702,11703 - 14042,14043 - 16383',
  8: '0 - 2047,2048 - 4095,4096 - 6143,6144 - 8191,8192 - 10239,10240 - 12287,12288 - 14335,14336 - 16383',
  9: '0 - 1819,1820 - 3640,3641 - 5460,5461 - 7281,7282 - 9101,9102 - 10922,10923 - 12742,12743 - 14563,14564 - 16383',
} as const;

/**
 * The last slot of each of 78 masters, from the same command: the smallest count at which
 * redis-cli's float32 arithmetic cuts differently from doubles (its 68th range ends at 14283,
 * not 14282), so this pins the Math.fround emulation.
 */
const REDIS_CLI_78_ENDS =
  '209,419,629,839,1049,1259,1469,1679,1889,2100,2310,2520,2730,2940,3150,3360,3570,3780,3990,4200,4410,4620,4830,5040,5250,5460,5670,5880,6090,6301,6511,6721,6931,7141,7351,7561,7771,7981,8191,8401,8611,8821,9031,9241,9451,9661,9871,10081,10292,10502,10712,10922,11132,11342,11552,11762,11972,12182,12392,12602,12812,13022,13232,13442,13652,13862,14072,14283,14493,14703,14913,15123,15333,15543,15753,15963,16173,16383';

const spread = (counts: Map<string, number>) => Math.max(...counts.values()) - Math.min(...counts.values());

describe('initial layout', () => {
  it('cuts the slots exactly as redis-cli --cluster create does', () => {
    for (const [n, expected] of Object.entries(REDIS_CLI)) {
      expect(
        evenSlotRanges(Number(n))
          .map((r) => `${r.start} - ${r.end}`)
          .join(','),
        `${n} groups`,
      ).toBe(expected);
    }
    expect(
      evenSlotRanges(78)
        .map((r) => r.end)
        .join(','),
    ).toBe(REDIS_CLI_78_ENDS);
    expect(evenSlotRanges(1)).toEqual([{ start: 0, end: 16383 }]);
    expect(evenSlotRanges(2)).toEqual([
      { start: 0, end: 8191 },
      { start: 8192, end: 16383 },
    ]);
  });

  it('spreads slots, replicas and leaders evenly for 1..9 groups over 3..5 nodes', () => {
    for (let nodes = 3; nodes <= 5; nodes++) {
      const ids = Array.from({ length: nodes }, (_, i) => `n${i + 1}`);
      for (let shards = 1; shards <= 9; shards++) {
        const at = `${shards} groups over ${nodes} nodes`;
        const map = initialLayout(ids, shards);
        expect(checkMap(map), at).toBeUndefined();
        expect(map.epoch).toBe(INITIAL_EPOCH);
        expect(
          map.groups.map((g) => g.id),
          at,
        ).toEqual(Array.from({ length: shards + 1 }, (_, i) => i));
        const slots = map.groups.slice(1).map((g) => slotCountOf(map, g.id));
        expect(Math.max(...slots) - Math.min(...slots), at).toBeLessThanOrEqual(1);
        expect(
          slots.reduce((a, b) => a + b),
          at,
        ).toBe(SLOT_COUNT);
        const replicas = new Map(ids.map((id) => [id, 0]));
        const leaders = new Map(ids.map((id) => [id, 0]));
        const dataLeaders = new Map(ids.map((id) => [id, 0]));
        for (const g of map.groups) {
          expect(g.voters.length, at).toBe(3);
          expect(g.learners, at).toEqual([]);
          for (const v of g.voters) replicas.set(v, replicas.get(v)! + 1);
          leaders.set(g.leaderHint!, leaders.get(g.leaderHint!)! + 1);
          if (g.id !== METADATA_GROUP) dataLeaders.set(g.leaderHint!, dataLeaders.get(g.leaderHint!)! + 1);
          // The leader is listed first, then the others in ring order after it.
          expect(g.voters[0], at).toBe(g.leaderHint);
        }
        expect(spread(replicas), `${at}: replicas ${[...replicas.values()]}`).toBeLessThanOrEqual(1);
        expect(spread(leaders), `${at}: leaders ${[...leaders.values()]}`).toBeLessThanOrEqual(1);
        expect(spread(dataLeaders), `${at}: data leaders ${[...dataLeaders.values()]}`).toBeLessThanOrEqual(1);
        // The same arguments give the same map on every node.
        expect(initialLayout(ids, shards)).toEqual(map);
      }
    }
  });

  it('puts 3 groups on 3 nodes with one leader each, as the compose variant wants', () => {
    const map = initialLayout(['a', 'b', 'c'], 3);
    expect(map.groups.slice(1).map((g) => g.leaderHint)).toEqual(['a', 'b', 'c']);
    expect(map.ranges).toEqual([
      { start: 0, end: 5460, group: 1 },
      { start: 5461, end: 10922, group: 2 },
      { start: 10923, end: 16383, group: 3 },
    ]);
  });

  it('uses every node when there are fewer nodes than replicas, and honours a replica count', () => {
    expect(initialLayout(['solo'], 2).groups.map((g) => g.voters)).toEqual([['solo'], ['solo'], ['solo']]);
    const five = initialLayout(['n1', 'n2', 'n3', 'n4', 'n5'], 4, 5);
    for (const g of five.groups) expect([...g.voters].sort()).toEqual(['n1', 'n2', 'n3', 'n4', 'n5']);
    const one = initialLayout(['n1', 'n2', 'n3', 'n4'], 4, 1);
    expect(one.groups.slice(1).map((g) => g.voters)).toEqual([['n1'], ['n2'], ['n3'], ['n4']]);
  });

  it('refuses arguments no cluster could start with', () => {
    expect(() => initialLayout([], 3)).toThrow(/at least one node/);
    expect(() => initialLayout(['n1', 'n1'], 3)).toThrow(/listed twice/);
    expect(() => initialLayout(['n 1'], 3)).toThrow(/invalid node id/);
    for (const shards of [0, 1.5, SLOT_COUNT + 1, Number.NaN]) expect(() => initialLayout(['n1'], shards)).toThrow(/shards must be an integer/);
    for (const replicas of [0, 33, 2.5]) expect(() => initialLayout(['n1'], 3, replicas)).toThrow(/replicas must be an integer/);
    // The most groups a map can hold: one per slot, each owning exactly one.
    const most = initialLayout(['n1', 'n2', 'n3'], SLOT_COUNT);
    expect(checkMap(most)).toBeUndefined();
    expect(most.ranges.every((r) => r.start === r.end)).toBe(true);
  });
});
