/**
 * The rebalancer's planner: given the map and what the cluster looks like now, the next few
 * slot map ops that spread replicas and leaders evenly, each with the reason to log.
 *
 * Pure and deterministic: the same input gives the same plan (nodes are taken in id order, so
 * even their order in the input does not matter), and it keeps no state between calls. Its
 * state is the map itself: a move in progress is a learner in some group, or a group with more
 * voters than it should have, and the next call finishes it.
 *
 * The plan is a sequence: op i is planned against the map ops 0..i-1 make, with that map's epoch
 * (each op's compare-and-set), so the executor runs them strictly in order, each first in the
 * data group (a conf change, a leadership transfer, a split entry) and then in group 0, and on the
 * first failure drops the rest and plans again. `promote` fails in the data group while the
 * learner is still catching up by snapshot; the executor retries it, it does not skip it.
 *
 * What it does, in this order:
 *  1. finishes moves in progress: promotes learners on usable nodes, removes learners on draining
 *     or gone nodes, and removes surplus voters (gone, then draining, then the busiest node);
 *  2. moves leader hints off draining or gone nodes, and gives a group without one a leader;
 *  3. replaces replicas on gone nodes, tops up groups with too few voters, and moves replicas
 *     off draining nodes (learner -> promote -> remove);
 *  4. evens replicas per node (a joined node holds none) to within one of each other;
 *  5. evens leaders: by load (ops/s led per node within `loadTolerance` of the mean) when the
 *     load sums to `minBalanceLoad` or more, else by count to within one;
 *  6. splits a group whose load alone (at least `minSplitLoad`) is more than a node's fair
 *     share, at its middle slot.
 * At most `maxMoves` replica moves are in progress at once (those already in the map count),
 * and a plan holds at most `maxTransfers` leader transfers made for their own sake (removing a
 * hinted leader first moves its hint, whatever the count) and one split.
 */
import type { NodeId } from '../raft/types.ts';
import { apply, type ShardOp, type ShardOpBody } from './ops.ts';
import { findGroup, type GroupId, type GroupReplicas, MAX_SLOT, METADATA_GROUP, nextGroupId, SHARD_LIMITS, type SlotMap } from './slot-map.ts';

/** A live member of the cluster (the caller decides liveness, with its own dead timeout). */
export interface PlannerNode {
  readonly id: NodeId;
  /** Being emptied before removal (`raftkv member drain`): gets nothing, keeps nothing. */
  readonly draining?: boolean;
}

export interface PlannerInput {
  readonly map: SlotMap;
  /** The live members. A replica on a node not listed is replaced. */
  readonly nodes: readonly PlannerNode[];
  /** Ops per second each group serves (absent: 0). */
  readonly load?: ReadonlyMap<GroupId, number>;
  /** Leaders each node holds, as the nodes report them (absent: counted from the map's hints). */
  readonly leaders?: ReadonlyMap<NodeId, number>;
  /**
   * Groups whose replicas are not the planner's to move (nor counted in a node's replicas): a
   * multi-group node keeps group 0 on every node, changed by membership commands. Their leader
   * hints are still balanced.
   */
  readonly pinned?: readonly GroupId[];
}

export const PLANNER_DEFAULTS = {
  /** Voters per group (fewer when fewer nodes can hold one). */
  replicas: 3,
  /** K: replica moves in progress at once. */
  maxMoves: 1,
  /** Leader transfers per plan. */
  maxTransfers: 2,
  /** A node may lead this much more load than the mean (0.2: 20%) before leaders move. */
  loadTolerance: 0.2,
  /** Below this many ops/s in all, load is noise: leaders are evened by count instead. */
  minBalanceLoad: 100,
  /** A group serving fewer ops/s is never split for load (CockroachDB's is 2500 QPS). */
  minSplitLoad: 1000,
} as const;

export type PlannerOptions = { -readonly [K in keyof typeof PLANNER_DEFAULTS]?: number };

export interface PlannedOp {
  readonly op: ShardOp;
  /** Why, for the log: "node n4 joined: n4 holds 0 replicas, mean 2.25: add n4 as ...". */
  readonly reason: string;
}

/**
 * The next ops, in the order they must run; empty when the cluster is balanced. Throws a
 * RangeError for an option that is not a non-negative number (a setting the caller checks).
 */
export function planRebalance(input: PlannerInput, options: PlannerOptions = {}): PlannedOp[] {
  const opts = { ...PLANNER_DEFAULTS, ...options };
  for (const [name, v] of Object.entries(opts)) {
    if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) throw new RangeError(`planner option ${name} must be a non-negative number, got ${v}`);
  }
  return new Plan(input, opts).run();
}

const fmt = (x: number) => String(Math.round(x * 100) / 100);
const byId = (a: NodeId, b: NodeId) => (a < b ? -1 : a > b ? 1 : 0);

class Plan {
  private map: SlotMap;
  private readonly out: PlannedOp[] = [];
  private readonly live: Set<NodeId>;
  /** Live and not draining, in id order: the nodes that may receive replicas and leaders. */
  private readonly usable: NodeId[];
  private readonly usableSet: Set<NodeId>;
  private readonly target: number;
  /** Leader transfers planned so far, to keep reported leader counts current. */
  private readonly transfers: { from: NodeId | undefined; to: NodeId }[] = [];
  /** Moves in progress in the cluster before this plan: learners, surplus voters. */
  private readonly inFlight: number;
  private trims = 0;
  private readonly pinned: ReadonlySet<GroupId>;

  constructor(
    private readonly input: PlannerInput,
    private readonly opts: Required<PlannerOptions>,
  ) {
    this.map = input.map;
    this.pinned = new Set(input.pinned ?? []);
    this.live = new Set(input.nodes.map((n) => n.id));
    this.usable = input.nodes
      .filter((n) => !n.draining)
      .map((n) => n.id)
      .sort(byId);
    this.usableSet = new Set(this.usable);
    this.target = Math.max(1, Math.min(opts.replicas, this.usable.length));
    this.inFlight = input.map.groups.filter((g) => !this.pinned.has(g.id) && (g.learners.length > 0 || g.voters.length > this.target)).length;
  }

  run(): PlannedOp[] {
    if (this.usable.length === 0) return [];
    this.finishMoves();
    this.leadersOffUnusable();
    this.repair();
    this.evenReplicas();
    this.evenLeaders();
    this.splitHot();
    return this.out;
  }

  // ---- 1. moves in progress
  /** The groups whose replicas the planner moves. */
  private movable(): GroupReplicas[] {
    return this.map.groups.filter((g) => !this.pinned.has(g.id));
  }

  private finishMoves(): void {
    for (const id of this.movable().map((g) => g.id)) {
      for (const node of [...this.group(id).learners]) {
        if (this.isUsable(node)) this.emit({ type: 'promote', group: id, node }, `group ${id} has learner ${node}`, `promote ${node} once it has caught up`);
        else this.emit({ type: 'removeReplica', group: id, node }, `group ${id} has learner ${node}, which is ${this.why(node)}`, `remove it`);
      }
      // Surplus voters are the end of an interrupted move, or what a drain with nowhere to move
      // to leaves: at most K such removals per plan.
      if (this.group(id).voters.length > this.target && this.trims < this.opts.maxMoves) {
        this.trims++;
        this.trimSurplus(id, `group ${id} has ${this.group(id).voters.length} voters, wants ${this.target}`);
      }
    }
  }

  /** Removes voters above the target: gone first, then draining, then the busiest. */
  private trimSurplus(id: GroupId, why: string): void {
    while (this.group(id).voters.length > this.target) {
      const counts = this.replicaCounts();
      const rank = (n: NodeId) => (!this.live.has(n) ? 0 : !this.isUsable(n) ? 1 : 2);
      const victim = [...this.group(id).voters].sort((a, b) => rank(a) - rank(b) || (counts.get(b) ?? 0) - (counts.get(a) ?? 0) || byId(a, b))[0];
      if (!this.remove(id, victim, why)) return;
    }
  }

  // ---- 2. leaders off draining or gone nodes, and onto groups the map knows no leader of
  private leadersOffUnusable(): void {
    for (const g of this.map.groups) {
      const hint = g.leaderHint;
      if ((hint !== undefined && this.isUsable(hint)) || this.transfers.length >= this.opts.maxTransfers) continue;
      const to = this.bestLeader(g.id, hint);
      if (to) this.transfer(g.id, hint, to, hint === undefined ? `group ${g.id} has no leader hint` : `node ${hint} is ${this.why(hint)}`);
    }
  }

  // ---- 3. replicas on gone nodes, groups short of voters, replicas on draining nodes
  private repair(): void {
    const gone: [GroupId, NodeId][] = [];
    const draining: [GroupId, NodeId][] = [];
    const short: GroupId[] = [];
    for (const g of this.movable()) {
      for (const n of g.voters) {
        if (!this.live.has(n)) gone.push([g.id, n]);
        else if (!this.isUsable(n)) draining.push([g.id, n]);
      }
      if (g.voters.length < this.target) short.push(g.id);
    }
    for (const [id, from] of [...gone, ...draining]) {
      if (!this.group(id).voters.includes(from)) continue;
      const to = this.receiver(id);
      const why = `node ${from} is ${this.why(from)}`;
      if (to !== undefined) {
        if (this.canStartMove()) this.move(id, from, to, why);
      } else if (this.group(id).voters.length > 1 && this.live.has(from) && this.trims < this.opts.maxMoves) {
        // Draining with nowhere to go: the operator asked for it, so the group shrinks.
        this.trims++;
        this.remove(id, from, `${why} and no other node can take group ${id}'s replica`);
      }
    }
    for (const id of short) {
      while (this.group(id).voters.length < this.target && this.canStartMove()) {
        const to = this.receiver(id);
        if (to === undefined) break;
        const why = `group ${id} has ${this.group(id).voters.length} voters, wants ${this.target}`;
        if (!this.emit({ type: 'addLearner', group: id, node: to }, why, `add ${to} as a learner (snapshot catch-up)`)) break;
        this.emit({ type: 'promote', group: id, node: to }, why, `promote ${to} once it has caught up`);
      }
    }
  }

  // ---- 4. replicas per node
  private evenReplicas(): void {
    while (this.canStartMove()) {
      const counts = this.replicaCounts();
      const nodes = [...this.usable].sort((a, b) => counts.get(a)! - counts.get(b)! || byId(a, b));
      const to = nodes[0];
      const from = nodes[nodes.length - 1];
      if (counts.get(from)! - counts.get(to)! <= 1) return;
      const load = (id: GroupId) => this.input.load?.get(id) ?? 0;
      // A group on `from` but not on `to`: one `from` does not lead first (no transfer needed),
      // then the least loaded (the cheapest to copy and disturb), then the lowest id.
      const candidates = this.movable()
        .filter((g) => g.voters.includes(from) && !g.voters.includes(to) && !g.learners.includes(to))
        .sort((a, b) => Number(a.leaderHint === from) - Number(b.leaderHint === from) || load(a.id) - load(b.id) || a.id - b.id);
      if (candidates.length === 0) return;
      let total = 0;
      for (const n of this.usable) total += counts.get(n)!;
      const mean = fmt(total / this.usable.length);
      const why =
        counts.get(to) === 0
          ? `node ${to} joined: ${to} holds 0 replicas, mean ${mean}`
          : `replicas uneven: ${from} holds ${counts.get(from)}, ${to} holds ${counts.get(to)}, mean ${mean}`;
      // A move that cannot start (the group is at its replica limit) ends this phase.
      if (!this.move(candidates[0].id, from, to, why)) return;
    }
  }

  // ---- 5. leaders per node
  private evenLeaders(): void {
    const load = this.input.load;
    let total = 0;
    for (const v of load?.values() ?? []) total += v;
    const loaded = total >= this.opts.minBalanceLoad;
    while (this.transfers.length < this.opts.maxTransfers && (loaded ? this.evenLoadOnce() : this.evenCountOnce()));
  }

  private evenCountOnce(): boolean {
    const counts = this.leaderCounts();
    const nodes = [...this.usable].sort((a, b) => counts.get(a)! - counts.get(b)! || byId(a, b));
    const mean = fmt(nodes.reduce((s, n) => s + counts.get(n)!, 0) / nodes.length);
    for (const from of [...nodes].reverse()) {
      for (const to of nodes) {
        if (counts.get(from)! - counts.get(to)! <= 1) break;
        const g = this.map.groups.find((x) => x.leaderHint === from && x.voters.includes(to));
        if (g) {
          this.transfer(g.id, from, to, `leaders uneven: ${from} leads ${counts.get(from)}, ${to} leads ${counts.get(to)}, mean ${mean}`);
          return true;
        }
      }
    }
    return false;
  }

  private evenLoadOnce(): boolean {
    const led = this.ledLoad();
    const nodes = [...this.usable].sort((a, b) => led.get(b)! - led.get(a)! || byId(a, b));
    const mean = nodes.reduce((s, n) => s + led.get(n)!, 0) / nodes.length;
    const from = nodes[0];
    const hot = led.get(from)!;
    if (hot <= mean * (1 + this.opts.loadTolerance)) return false;
    // The transfer that leaves the hotter of the two nodes coolest.
    let best: { id: GroupId; to: NodeId; peak: number } | undefined;
    for (const g of this.map.groups) {
      if (g.leaderHint !== from) continue;
      const l = this.input.load?.get(g.id) ?? 0;
      for (const to of g.voters) {
        if (to === from || !this.isUsable(to)) continue;
        const peak = Math.max(hot - l, led.get(to)! + l);
        if (peak < hot && (best === undefined || peak < best.peak)) best = { id: g.id, to, peak };
      }
    }
    if (!best) return false;
    const l = this.input.load?.get(best.id) ?? 0;
    this.transfer(best.id, from, best.to, `load skewed: ${from} leads ${fmt(hot)} ops/s, mean ${fmt(mean)}; group ${best.id} serves ${fmt(l)}`);
    return true;
  }

  // ---- 6. a group too hot for any one node
  private splitHot(): void {
    const load = this.input.load;
    if (!load || this.map.groups.length >= SHARD_LIMITS.maxGroups) return;
    let total = 0;
    for (const g of this.map.groups) total += load.get(g.id) ?? 0;
    const share = total / this.usable.length;
    const hot = this.map.groups
      .filter((g) => {
        const l = load.get(g.id) ?? 0;
        return g.id !== METADATA_GROUP && l >= this.opts.minSplitLoad && l > share * (1 + this.opts.loadTolerance);
      })
      .sort((a, b) => (load.get(b.id) ?? 0) - (load.get(a.id) ?? 0) || a.id - b.id);
    for (const g of hot) {
      const atSlot = this.middleSlot(g.id);
      if (atSlot === undefined) continue;
      const why = `group ${g.id} serves ${fmt(load.get(g.id) ?? 0)} ops/s, more than a node's share ${fmt(share)}`;
      this.emit({ type: 'split', group: g.id, atSlot, newGroup: nextGroupId(this.map) }, why, `split it at slot ${atSlot}`);
      return;
    }
  }

  /** The slot that halves the group's slot count, or undefined if it owns a single slot. */
  private middleSlot(id: GroupId): number | undefined {
    const ranges = this.map.ranges.filter((r) => r.group === id);
    let left = Math.floor(ranges.reduce((s, r) => s + r.end - r.start + 1, 0) / 2);
    if (left === 0) return undefined;
    for (const r of ranges) {
      const n = r.end - r.start + 1;
      if (left < n) return r.start + left;
      left -= n;
    }
    return MAX_SLOT;
  }

  // ---- building blocks
  /** learner -> promote -> (leadership off `from`) -> remove `from`. */
  private move(id: GroupId, from: NodeId, to: NodeId, why: string): boolean {
    if (!this.emit({ type: 'addLearner', group: id, node: to }, why, `add ${to} as a learner of group ${id} (snapshot catch-up)`)) return false;
    this.emit({ type: 'promote', group: id, node: to }, why, `promote ${to} in group ${id} once it has caught up`);
    this.remove(id, from, why);
    return true;
  }

  private remove(id: GroupId, node: NodeId, why: string): boolean {
    if (this.group(id).leaderHint === node) {
      const to = this.bestLeader(id, node);
      if (to) this.transfer(id, node, to, why);
    }
    return this.emit({ type: 'removeReplica', group: id, node }, why, `remove ${node} from group ${id}`);
  }

  private transfer(id: GroupId, from: NodeId | undefined, to: NodeId, why: string): void {
    const what = from === undefined ? `transfer group ${id}'s leadership to ${to}` : `transfer group ${id}'s leadership from ${from} to ${to}`;
    if (this.emit({ type: 'setLeaderHint', group: id, node: to }, why, what)) this.transfers.push({ from, to });
  }

  /** Plans `op` against the map as the plan so far leaves it; false if it would be refused. */
  private emit(op: ShardOpBody, why: string, what: string): boolean {
    const full = { ...op, epoch: this.map.epoch } as ShardOp;
    const res = apply(this.map, full);
    if (res.error !== undefined) return false;
    this.map = res.map;
    this.out.push({ op: full, reason: `${why}: ${what}` });
    return true;
  }

  /** The usable voter of `id` other than `from` with the fewest leaders, then the least led load. */
  private bestLeader(id: GroupId, from: NodeId | undefined): NodeId | undefined {
    const counts = this.leaderCounts();
    const led = this.ledLoad();
    return this.group(id)
      .voters.filter((n) => n !== from && this.isUsable(n))
      .sort((a, b) => counts.get(a)! - counts.get(b)! || led.get(a)! - led.get(b)! || byId(a, b))[0];
  }

  /** The usable node without a replica of `id` holding the fewest replicas. */
  private receiver(id: GroupId): NodeId | undefined {
    const g = this.group(id);
    const counts = this.replicaCounts();
    return this.usable.filter((n) => !g.voters.includes(n) && !g.learners.includes(n)).sort((a, b) => counts.get(a)! - counts.get(b)! || byId(a, b))[0];
  }

  private canStartMove(): boolean {
    // Moves this plan started are complete in `map` but not yet in the cluster: count them too.
    let started = 0;
    for (const p of this.out) if (p.op.type === 'addLearner') started++;
    return this.inFlight + started < this.opts.maxMoves;
  }

  private replicaCounts(): Map<NodeId, number> {
    const counts = new Map<NodeId, number>(this.usable.map((n) => [n, 0]));
    for (const g of this.movable()) for (const n of [...g.voters, ...g.learners]) counts.set(n, (counts.get(n) ?? 0) + 1);
    return counts;
  }

  /** Leaders per node: reported counts adjusted by the transfers planned, else the hints. */
  private leaderCounts(): Map<NodeId, number> {
    const counts = new Map<NodeId, number>(this.usable.map((n) => [n, 0]));
    const reported = this.input.leaders;
    if (reported) {
      for (const [n, c] of reported) counts.set(n, c);
      for (const t of this.transfers) {
        if (t.from !== undefined) counts.set(t.from, (counts.get(t.from) ?? 0) - 1);
        counts.set(t.to, (counts.get(t.to) ?? 0) + 1);
      }
      return counts;
    }
    for (const g of this.map.groups) if (g.leaderHint !== undefined) counts.set(g.leaderHint, (counts.get(g.leaderHint) ?? 0) + 1);
    return counts;
  }

  private ledLoad(): Map<NodeId, number> {
    const led = new Map<NodeId, number>(this.usable.map((n) => [n, 0]));
    for (const g of this.map.groups) {
      if (g.leaderHint !== undefined) led.set(g.leaderHint, (led.get(g.leaderHint) ?? 0) + (this.input.load?.get(g.id) ?? 0));
    }
    return led;
  }

  private group(id: GroupId): GroupReplicas {
    return findGroup(this.map, id)!;
  }

  private isUsable(n: NodeId): boolean {
    return this.usableSet.has(n);
  }

  private why(n: NodeId): string {
    return this.live.has(n) ? 'draining' : 'gone';
  }
}
