/**
 * The rebalancer's planner, driven the way the rebalancer will drive it: plan, run the ops in
 * order on the map, plan again, until the plan is empty. Scenarios: a node joins, a node drains
 * before removal, a node is gone, load is skewed, a move was interrupted; then a seeded property
 * run over random maps and node sets (every plan applies cleanly, and planning converges).
 */
import { describe, expect, it } from 'vitest';
import { initialLayout } from '../../src/shard/layout.ts';
import { apply } from '../../src/shard/ops.ts';
import { type PlannedOp, type PlannerInput, type PlannerNode, type PlannerOptions, planRebalance } from '../../src/shard/planner.ts';
import { checkMap, findGroup, type GroupId, type SlotMap } from '../../src/shard/slot-map.ts';
import { SplitMix32 } from '../support/splitmix32.ts';

const live = (...ids: string[]): PlannerNode[] => ids.map((id) => ({ id }));

/** Runs a plan's ops in order, as the executor will; every one must apply. */
function run(map: SlotMap, plan: PlannedOp[]): SlotMap {
  for (const p of plan) {
    // Each op was planned against the map the ops before it leave.
    expect(p.op.epoch, p.reason).toBe(map.epoch);
    const res = apply(map, p.op);
    expect(res.error, p.reason).toBeUndefined();
    expect(checkMap(res.map)).toBeUndefined();
    expect(res.map.epoch).toBe(p.op.epoch + 1);
    map = res.map;
  }
  return map;
}

/** Plans and runs until the plan is empty; returns the final map and every op planned. */
function converge(input: PlannerInput, options?: PlannerOptions, rounds = 40): { map: SlotMap; ops: PlannedOp[]; rounds: number } {
  let map = input.map;
  const ops: PlannedOp[] = [];
  for (let round = 0; round < rounds; round++) {
    const plan = planRebalance({ ...input, map }, options);
    if (plan.length === 0) return { map, ops, rounds: round };
    map = run(map, plan);
    ops.push(...plan);
  }
  throw new Error(
    `no convergence in ${rounds} rounds; last ops: ${ops
      .slice(-6)
      .map((p) => p.reason)
      .join(' | ')}`,
  );
}

function replicaCounts(map: SlotMap, nodes: string[]): Map<string, number> {
  const counts = new Map(nodes.map((n) => [n, 0]));
  for (const g of map.groups) for (const n of [...g.voters, ...g.learners]) counts.set(n, (counts.get(n) ?? 0) + 1);
  return counts;
}

function leaderCounts(map: SlotMap, nodes: string[]): Map<string, number> {
  const counts = new Map(nodes.map((n) => [n, 0]));
  for (const g of map.groups) if (g.leaderHint) counts.set(g.leaderHint, (counts.get(g.leaderHint) ?? 0) + 1);
  return counts;
}

const spread = (counts: Map<string, number>) => Math.max(...counts.values()) - Math.min(...counts.values());

describe('rebalance planner', () => {
  it('plans nothing for a balanced layout', () => {
    for (let shards = 1; shards <= 9; shards++) {
      expect(planRebalance({ map: initialLayout(['n1', 'n2', 'n3', 'n4'], shards), nodes: live('n1', 'n2', 'n3', 'n4') })).toEqual([]);
    }
  });

  it('moves replicas to a node that joined, one move at a time, learner -> promote -> remove', () => {
    const map = initialLayout(['n1', 'n2', 'n3'], 3);
    const nodes = live('n1', 'n2', 'n3', 'n4');
    const first = planRebalance({ map, nodes });
    expect(first.map((p) => p.op.type)).toEqual(['addLearner', 'promote', 'removeReplica', 'setLeaderHint']);
    expect(first[0].reason).toBe('node n4 joined: n4 holds 0 replicas, mean 3: add n4 as a learner of group 0 (snapshot catch-up)');
    expect(first[0].op).toMatchObject({ type: 'addLearner', node: 'n4', epoch: 1 });
    expect(first[1].op).toMatchObject({ type: 'promote', node: 'n4', epoch: 2 });
    expect(first[2].op).toMatchObject({ type: 'removeReplica', epoch: 3 });
    expect(first[3].reason).toMatch(/^leaders uneven: n1 leads 2, n4 leads 0, mean 1: transfer group 0's leadership from n1 to n4$/);
    const { map: end, ops } = converge({ map, nodes });
    // 4 groups x 3 replicas over 4 nodes: 3 each; 4 leaders: 1 each.
    expect([...replicaCounts(end, ['n1', 'n2', 'n3', 'n4']).values()]).toEqual([3, 3, 3, 3]);
    expect([...leaderCounts(end, ['n1', 'n2', 'n3', 'n4']).values()]).toEqual([1, 1, 1, 1]);
    expect(ops.filter((p) => p.op.type === 'addLearner')).toHaveLength(3);
  });

  it('runs at most K moves at once, counting a move already in progress', () => {
    const map = initialLayout(['n1', 'n2', 'n3'], 6);
    const nodes = live('n1', 'n2', 'n3', 'n4', 'n5');
    const learners = (plan: PlannedOp[]) => plan.filter((p) => p.op.type === 'addLearner').length;
    expect(learners(planRebalance({ map, nodes }))).toBe(1);
    expect(learners(planRebalance({ map, nodes }, { maxMoves: 3 }))).toBe(3);
    // An interrupted move: n4 is a learner of group 2. With K = 1 the plan finishes it and
    // starts nothing else: promote n4, then remove one of the three old voters.
    const started = apply(map, { type: 'addLearner', epoch: map.epoch, group: 2, node: 'n4' }).map;
    const plan = planRebalance({ map: started, nodes });
    expect(plan.map((p) => p.op.type).filter((t) => t !== 'setLeaderHint')).toEqual(['promote', 'removeReplica']);
    expect(plan[0].reason).toBe('group 2 has learner n4: promote n4 once it has caught up');
    expect(plan.every((p) => p.op.group === 2 || p.op.type === 'setLeaderHint')).toBe(true);
  });

  it('drains a node: its leaderships first, then its replicas, and never gives it anything', () => {
    const nodes4 = ['n1', 'n2', 'n3', 'n4'];
    const map = initialLayout(nodes4, 4);
    const nodes = [...live('n1', 'n2', 'n3'), { id: 'n4', draining: true }];
    const first = planRebalance({ map, nodes });
    expect(first[0].op).toMatchObject({ type: 'setLeaderHint' });
    expect(first[0].reason).toMatch(/^node n4 is draining: transfer group \d's leadership from n4 to n\d$/);
    const { map: end, ops } = converge({ map, nodes });
    expect(replicaCounts(end, nodes4).get('n4')).toBe(0);
    expect(ops.some((p) => (p.op.type === 'addLearner' || p.op.type === 'setLeaderHint') && p.op.node === 'n4')).toBe(false);
    expect(spread(replicaCounts(end, ['n1', 'n2', 'n3']))).toBeLessThanOrEqual(1);
    expect(end.groups.every((g) => g.voters.length === 3 && g.learners.length === 0 && g.leaderHint !== undefined)).toBe(true);
    // Once drained, removing the member changes nothing.
    expect(planRebalance({ map: end, nodes: live('n1', 'n2', 'n3') })).toEqual([]);
  });

  it('drains with nowhere to move: the groups shrink to the nodes left, K at a time', () => {
    const map = initialLayout(['n1', 'n2', 'n3'], 3);
    const nodes = [...live('n1', 'n2'), { id: 'n3', draining: true }];
    const plan = planRebalance({ map, nodes });
    expect(plan.filter((p) => p.op.type === 'removeReplica')).toHaveLength(1);
    const { map: end } = converge({ map, nodes });
    expect(end.groups.map((g) => [...g.voters].sort())).toEqual(Array(4).fill(['n1', 'n2']));
  });

  it('replaces the replicas of a node that is gone', () => {
    const map = initialLayout(['n1', 'n2', 'n3', 'n4'], 3);
    const nodes = live('n1', 'n2', 'n4', 'n5');
    const plan = planRebalance({ map, nodes });
    expect(plan.find((p) => p.op.type === 'addLearner')?.reason).toMatch(/^node n3 is gone: add n5 as a learner/);
    const { map: end } = converge({ map, nodes });
    expect(replicaCounts(end, ['n3']).get('n3')).toBe(0);
    expect(spread(replicaCounts(end, ['n1', 'n2', 'n4', 'n5']))).toBeLessThanOrEqual(1);
    expect(spread(leaderCounts(end, ['n1', 'n2', 'n4', 'n5']))).toBeLessThanOrEqual(1);
  });

  it('tops up a group with too few voters', () => {
    let map = initialLayout(['n1', 'n2', 'n3', 'n4'], 2);
    map = apply(map, { type: 'removeReplica', epoch: map.epoch, group: 1, node: findGroup(map, 1)!.voters[2] }).map;
    const plan = planRebalance({ map, nodes: live('n1', 'n2', 'n3', 'n4') });
    expect(plan.slice(0, 2).map((p) => [p.op.type, p.op.group])).toEqual([
      ['addLearner', 1],
      ['promote', 1],
    ]);
    expect(plan[0].reason).toMatch(/^group 1 has 2 voters, wants 3: add n\d as a learner/);
  });

  it('evens leaders by load when load is skewed, to within 20% of the mean', () => {
    let map = initialLayout(['n1', 'n2', 'n3'], 3);
    for (const group of [2, 3]) map = apply(map, { type: 'setLeaderHint', epoch: map.epoch, group, node: 'n1' }).map;
    const load = new Map<GroupId, number>([
      [1, 3000],
      [2, 3000],
      [3, 3000],
    ]);
    const nodes = live('n1', 'n2', 'n3');
    const plan = planRebalance({ map, nodes, load });
    expect(plan.map((p) => p.op.type)).toEqual(['setLeaderHint', 'setLeaderHint']);
    expect(plan[0].reason).toBe("load skewed: n1 leads 9000 ops/s, mean 3000; group 1 serves 3000: transfer group 1's leadership from n1 to n2");
    const { map: end } = converge({ map, nodes, load });
    const led = new Map(['n1', 'n2', 'n3'].map((n) => [n, 0]));
    for (const g of end.groups) led.set(g.leaderHint!, led.get(g.leaderHint!)! + (load.get(g.id) ?? 0));
    for (const v of led.values()) expect(v).toBeLessThanOrEqual(3000 * 1.2);
    // The same skew below the noise floor is evened by count instead: one transfer of two.
    const quiet = new Map([...load].map(([g, v]) => [g, v / 1000]));
    expect(planRebalance({ map, nodes, load: quiet }).map((p) => p.reason)).toEqual([
      "leaders uneven: n1 leads 4, n2 leads 0, mean 1.33: transfer group 0's leadership from n1 to n2",
      "leaders uneven: n1 leads 3, n3 leads 0, mean 1.33: transfer group 1's leadership from n1 to n3",
    ]);
  });

  it('splits a group hotter than any node could carry, at its middle slot', () => {
    const map = initialLayout(['n1', 'n2', 'n3'], 3);
    const load = new Map<GroupId, number>([
      [1, 9000],
      [2, 100],
      [3, 100],
    ]);
    const plan = planRebalance({ map, nodes: live('n1', 'n2', 'n3'), load });
    expect(plan).toEqual([
      {
        op: { type: 'split', group: 1, atSlot: 2730, newGroup: 4, epoch: 1 },
        reason: "group 1 serves 9000 ops/s, more than a node's share 3066.67: split it at slot 2730",
      },
    ]);
    const after = run(map, plan);
    expect(findGroup(after, 4)).toMatchObject({ voters: findGroup(map, 1)!.voters, leaderHint: 'n1' });
    // A cold cluster is not split, however uneven.
    expect(planRebalance({ map, nodes: live('n1', 'n2', 'n3'), load: new Map([[1, 900]]) })).toEqual([]);
  });

  it('refuses options that are not non-negative numbers', () => {
    const input = { map: initialLayout(['n1'], 1), nodes: live('n1') };
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY])
      expect(() => planRebalance(input, { maxMoves: bad })).toThrow(/maxMoves must be a non-negative number/);
    expect(planRebalance(input, { maxMoves: 0, maxTransfers: 0 })).toEqual([]);
  });

  it('is deterministic: the same input in another order gives the same plan', () => {
    const map = initialLayout(['n1', 'n2', 'n3', 'n4'], 5);
    const nodes = [...live('n1', 'n2', 'n5', 'n6'), { id: 'n3', draining: true }];
    const load = new Map<GroupId, number>([
      [1, 5000],
      [2, 200],
      [5, 4000],
    ]);
    const leaders = new Map([
      ['n1', 3],
      ['n2', 2],
    ]);
    const plan = planRebalance({ map, nodes, load, leaders }, { maxMoves: 3 });
    expect(plan.length).toBeGreaterThan(5);
    const shuffledNodes = [nodes[4], nodes[2], nodes[0], nodes[3], nodes[1]];
    const reversed = <K, V>(m: Map<K, V>) => new Map([...m].reverse());
    expect(planRebalance({ map, nodes: shuffledNodes, load: reversed(load), leaders: reversed(leaders) }, { maxMoves: 3 })).toEqual(plan);
  });

  it('on random maps and node sets, every plan applies in order and planning converges (seeded)', () => {
    const pool = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7'];
    let moves = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const rnd = new SplitMix32(seed);
      const founders = pool.slice(0, rnd.int(1, 5));
      let map = initialLayout(founders, rnd.int(1, 9));
      // Disturb it: random valid replica and leader changes.
      for (let i = rnd.int(0, 30); i > 0; i--) {
        const g = map.groups[rnd.int(0, map.groups.length - 1)];
        const node = pool[rnd.int(0, pool.length - 1)];
        const type = (['addLearner', 'promote', 'removeReplica', 'setLeaderHint'] as const)[rnd.int(0, 3)];
        const res = apply(map, { type, epoch: map.epoch, group: g.id, node: type === 'promote' ? (g.learners[0] ?? node) : node });
        map = res.map;
      }
      const members = pool.filter(() => rnd.chance(0.7));
      if (members.length === 0) members.push('n1');
      const nodes: PlannerNode[] = members.map((id) => ({ id, draining: rnd.chance(0.15) }));
      const usable = nodes.filter((n) => !n.draining).map((n) => n.id);
      const at = `seed ${seed}`;
      if (usable.length === 0) {
        expect(planRebalance({ map, nodes }), at).toEqual([]);
        continue;
      }
      const { map: end, ops } = converge({ map, nodes }, { maxMoves: rnd.int(1, 3) }, 80);
      moves += ops.filter((p) => p.op.type === 'addLearner').length;
      // Nothing is left on draining or gone nodes while a usable node could hold it, and every
      // group has min(3, usable) voters, no learners, and a leader hint on a usable node.
      const want = Math.min(3, usable.length);
      for (const g of end.groups) {
        expect(g.learners, at).toEqual([]);
        expect(g.voters.length, at).toBe(want);
        expect(
          g.voters.every((n) => usable.includes(n)),
          `${at}: group ${g.id} ${g.voters}`,
        ).toBe(true);
        expect(g.leaderHint !== undefined && usable.includes(g.leaderHint), `${at}: group ${g.id} hint ${g.leaderHint}`).toBe(true);
      }
      expect(spread(replicaCounts(end, usable)), at).toBeLessThanOrEqual(1);
      // Leaders: no single transfer from a node with 2 more than another is left undone.
      const leaders = leaderCounts(end, usable);
      for (const g of end.groups) {
        for (const v of g.voters) expect(leaders.get(g.leaderHint!)! - leaders.get(v)!, `${at}: group ${g.id}`).toBeLessThanOrEqual(1);
      }
    }
    expect(moves).toBeGreaterThan(50);
  });

  it('with random load and reported leaders, every plan applies in order and is the same twice (seeded)', () => {
    const pool = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6'];
    const seen = new Set<string>();
    for (let seed = 1; seed <= 40; seed++) {
      const rnd = new SplitMix32(seed);
      let map = initialLayout(pool.slice(0, rnd.int(2, 5)), rnd.int(1, 9));
      const nodes: PlannerNode[] = pool.filter(() => rnd.chance(0.8)).map((id) => ({ id, draining: rnd.chance(0.1) }));
      if (!nodes.some((n) => !n.draining)) nodes.push({ id: 'n1' });
      for (let round = 0; round < 8; round++) {
        // Fresh measurements every round, as the rebalancer takes them.
        const load = new Map(map.groups.map((g) => [g.id, rnd.chance(0.3) ? rnd.int(0, 20_000) : rnd.int(0, 500)]));
        const leaders = rnd.chance(0.5) ? new Map(nodes.map((n) => [n.id, rnd.int(0, 4)])) : undefined;
        const options = { maxMoves: rnd.int(1, 3), maxTransfers: rnd.int(0, 3) };
        const plan = planRebalance({ map, nodes, load, leaders }, options);
        expect(planRebalance({ map, nodes, load, leaders }, options)).toEqual(plan);
        expect(plan.filter((p) => p.op.type === 'setLeaderHint').length).toBeLessThanOrEqual(options.maxTransfers + 4 * options.maxMoves);
        expect(plan.filter((p) => p.op.type === 'split').length).toBeLessThanOrEqual(1);
        for (const p of plan) seen.add(p.op.type);
        map = run(map, plan);
      }
    }
    expect([...seen].sort()).toEqual(['addLearner', 'promote', 'removeReplica', 'setLeaderHint', 'split']);
  });
});
