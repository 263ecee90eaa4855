/**
 * The resharding operator of a multi-group run and the slot map it keeps (issue 13), mid-fault:
 *
 * - split: the parent's leader proposes `{ type: 'split', atSlot, group }`, alone in its entry.
 *   Every replica of the parent that applies it starts the new group from the image it takes
 *   there (`takeSplitImage`) as a snapshot at the entry's (index, term) with the parent's
 *   configuration, as src/node/store/seed.ts seeds a group; a replica that already hosts the
 *   group (a split entry replayed after a restart) cancels the image. A replica that skipped
 *   the entry by installing a later snapshot of the parent starts the new group empty, if the
 *   group's configuration lists it, and catches up by snapshot. The parent's leader then
 *   proposes `dropUnowned` entries while `cleanupPending > 0`, one in flight; and the parent's
 *   leader, once it applied the split, records it in the map.
 * - leader transfer of a group to another voter;
 * - replica move: a learner on a node that does not host the group (an empty replica: it
 *   catches up by snapshot), promoted once caught up, then an old voter removed.
 *
 * The map stands in for group 0: a change of it is an atomic event of the run, traced, and every
 * change is checked against the groups' own split entries (ownership.ts). Group ids are never
 * reused: one is reserved for each split proposed, as create-group reserves it in group 0.
 */
import { type KvEntry, type KvResult, MAX_DROP_EXAMINED, type SplitRecord } from '../../../src/kv/index.ts';
import {
  ConfChangeType,
  type ConfState,
  type Entry,
  EntryType,
  InvalidConfChangeError,
  type NodeId,
  ProposalDroppedError,
  Role,
} from '../../../src/raft/index.ts';
import { apply, findGroup, type ShardOpBody, type SlotMap } from '../../../src/shard/index.ts';
import { Invariant } from '../invariants.ts';
import { Prng } from '../prng.ts';
import type { RunOptions } from '../run-options.ts';
import { ELECTION_TICK, type ScheduledFault, TICK } from '../schedule.ts';
import type { SimNode } from '../sim-node.ts';
import { Disk } from '../sim-storage.ts';
import { TraceKind as K } from '../trace.ts';
import { Ownership } from './ownership.ts';
import { type GroupId, type HostNode, imageBytes, imageHash, seedDigest, seededDisk } from './replicas.ts';
import type { GroupWorld } from './world.ts';

const ELECTION = ELECTION_TICK * TICK;
/** Ticks a node waits before it starts a group the map lists or retires one it does not (reconcile.ts's MISSING_PASSES). */
const RECONCILE_TICKS = 10;
/** Tries of one move step before the move is left as it is. */
const MOVE_TRIES = 30;

interface Move {
  group: GroupId;
  target: NodeId;
  tries: number;
}

export class Reshard {
  map: SlotMap;
  readonly owners: Ownership;
  private nextGroup: number;
  /** Per leader replica, the incarnation with a cleanup entry in flight. */
  private readonly cleaning = new Map<SimNode, number>();
  private readonly moves: Move[] = [];
  /** Ticks each (node, group) has been due to start or retire (reconcile). */
  private readonly passes = new Map<string, number>();
  /** When a leader of each parent first had a split to record. */
  private readonly seen = new Map<GroupId, number>();

  /** `keySlots`: the slots of the clients' keys (a split point among them moves keys). */
  constructor(
    private readonly w: GroupWorld,
    map: SlotMap,
    private readonly keySlots: readonly number[],
    private readonly dropLimit: number,
    private readonly maxGroups: number,
    /** Time units between a split applied on the parent's leader and its record in the map. */
    private readonly recordDelay: number,
    /** The mutations of run-options.ts: `no-reconcile`, `map-copies-parent`. */
    private readonly mutate?: RunOptions['mutate'],
  ) {
    this.map = map;
    this.owners = new Ownership(map);
    this.nextGroup = Math.max(...map.groups.map((g) => g.id)) + 1;
  }

  private setMap(map: SlotMap, why: string): void {
    this.map = map;
    this.w.trace(K.Cluster, `map epoch ${map.epoch}: ${why}`);
    const problem = this.owners.checkMap(map);
    if (problem) this.w.fail(Invariant.KeyOwnership, problem);
  }

  /** The data groups of the map, in id order. */
  dataGroups(): GroupId[] {
    return this.map.groups.map((g) => g.id).filter((id) => id > 0);
  }

  // ---- the operations, as scheduled faults ----

  run(sf: ScheduledFault, note: (text: string) => void): void {
    const rng = new Prng(sf.salt);
    const group = rng.pick(this.dataGroups());
    const leader = this.w.leaderOf(group);
    if (!leader?.raw) {
      note(`g${group} has no leader`);
      return;
    }
    if (sf.fault.kind === 'split') {
      // Every group costs events: a run keeps to a few more than it started with.
      if (this.dataGroups().length >= this.maxGroups) {
        note(`${this.maxGroups} groups are enough`);
        return;
      }
      this.split(group, leader, rng, note);
    } else if (sf.fault.kind === 'transfer') {
      const others = leader.raw.status().conf.voters.filter((id) => id !== leader.id);
      if (others.length === 0) {
        note(`g${group} has no other voter`);
        return;
      }
      const to = rng.pick(others);
      note(`g${group} ${leader.id} -> ${to}`);
      leader.raw.transferLeadership(to);
      leader.schedule();
    } else if (sf.fault.kind === 'move-replica') this.startMove(group, leader, rng, note);
  }

  private split(group: GroupId, leader: SimNode, rng: Prng, note: (text: string) => void): void {
    const range = leader.kv!.ownedSlots.find(([a, b]) => b > a);
    if (!range) {
      note(`g${group} owns single slots only`);
      return;
    }
    const [a, b] = range;
    // Split at a client key's slot when one lies inside, so that keys move with their history.
    const inside = this.keySlots.filter((s) => s > a && s <= b);
    const atSlot = inside.length > 0 ? rng.pick(inside) : rng.int(a + 1, b);
    const child = this.nextGroup++;
    note(`g${group} (slots ${a}-${b}) at slot ${atSlot} into g${child}, proposed on ${leader.id}`);
    leader.propose([{ type: 'split', atSlot, group: child }], this.w.time + 2 * ELECTION).then(
      (r) => this.w.trace(K.Cluster, `g${group} split to g${child} on ${leader.id}: ${r[0]?.type === 'error' ? r[0].message : r[0]?.type}`),
      (e: Error) => this.w.trace(K.Cluster, `g${group} split to g${child} on ${leader.id}: ${e.message}`),
    );
  }

  private startMove(group: GroupId, leader: SimNode, rng: Prng, note: (text: string) => void): void {
    const g = this.w.groups.get(group)!;
    const targets = this.w.reachable().filter((h) => !h.replicas.has(group) && !g.member(h.id));
    if (targets.length === 0) {
      note(`no node to move g${group} to`);
      return;
    }
    const target = rng.pick(targets);
    if (!this.confChange(leader, ConfChangeType.AddLearner, target.id, note)) return;
    this.w.addReplica(target, group, Disk.fresh());
    this.moves.push({ group, target: target.id, tries: 0 });
    this.w.later(ELECTION, { kind: 'move', move: this.moves.length - 1, k: 1 });
  }

  /** The next step of a move: promote the caught-up learner (k = 1), then remove an old voter (k = 2). */
  moveStep(id: number, k: number): void {
    const m = this.moves[id];
    const note = (text: string) => this.w.trace(K.Fault, `move of g${m.group} to ${m.target}: ${text}`);
    if (this.w.healing) {
      note('left as it is (healing)');
      return;
    }
    const conf = this.w.groups.get(m.group)!.conf.conf;
    const leader = this.w.leaderOf(m.group);
    const again = () => {
      if (++m.tries < MOVE_TRIES) this.w.later(ELECTION, { kind: 'move', move: id, k });
      else note('gave up');
    };
    if (!leader?.raw) {
      again();
      return;
    }
    if (k === 1) {
      if (conf.voters.includes(m.target)) {
        this.moveStep(id, 2);
        return;
      }
      if (!conf.learners.includes(m.target)) {
        note(`${m.target} is no longer a learner`);
        return;
      }
      const st = leader.raw.status();
      const match = st.progress?.[m.target]?.match ?? 0;
      if (match < st.commit - 5 || match === 0) {
        again();
        return;
      }
      if (this.confChange(leader, ConfChangeType.AddVoter, m.target, note)) this.w.later(ELECTION, { kind: 'move', move: id, k: 2 });
      else again();
      return;
    }
    if (!conf.voters.includes(m.target)) {
      again();
      return;
    }
    const old = conf.voters.filter((v) => v !== m.target && v !== leader.id);
    if (conf.voters.length <= 3 || old.length === 0) {
      note('done (no voter to spare)');
      return;
    }
    const victim = new Prng(id * 7919 + m.tries).pick(old);
    if (!this.confChange(leader, ConfChangeType.RemoveNode, victim, note)) again();
  }

  private confChange(leader: SimNode, type: ConfChangeType, node: NodeId, note: (text: string) => void): boolean {
    try {
      const { index } = leader.raw!.proposeConfChange({ type, node });
      note(`${type} ${node} proposed on ${leader.id} at index ${index}`);
      leader.schedule();
      return true;
    } catch (e) {
      if (!(e instanceof ProposalDroppedError || e instanceof InvalidConfChangeError)) throw e;
      note(`${type} ${node} refused by ${leader.id}: ${e.message}`);
      return false;
    }
  }

  // ---- what the world tells the operator ----

  /** A replica applied `e`: a split entry starts the new group there. */
  applied(group: GroupId, host: HostNode, r: SimNode, e: Entry): void {
    const kv = r.kv;
    if (!kv || e.type !== EntryType.Normal || e.data.length === 0) return;
    const rec = kv.splits.at(-1);
    if (rec?.index === e.index) this.splitApplied(group, host, r, e, rec);
  }

  /** A replica applied a KV entry: which group applied what is judged against the split entries. */
  kvApplied(group: GroupId, r: SimNode, index: number, entry: KvEntry, results: KvResult[]): void {
    const problem = this.owners.checkEntry(group, r.id, index, entry, results);
    if (problem) this.w.fail(Invariant.KeyOwnership, problem);
  }

  private splitApplied(group: GroupId, host: HostNode, r: SimNode, e: Entry, rec: SplitRecord): void {
    const problem = this.owners.split(group, rec);
    if (problem) this.w.fail(Invariant.KeyOwnership, problem);
    const image = r.kv!.takeSplitImage(rec.group);
    if (!image) {
      this.w.fail(Invariant.CoreError, `g${group} on ${r.id} applied a split at ${e.index} without an image`);
      return;
    }
    if (host.replicas.has(rec.group)) {
      image.cancel();
      return;
    }
    const conf: ConfState = { voters: [...r.conf!.voters], learners: [...r.conf!.learners] };
    const incarnation = r.incarnation;
    void imageBytes(image).then(
      (data) => {
        if (r.incarnation !== incarnation || !r.up || host.replicas.has(rec.group)) return;
        const g = this.w.group(rec.group, conf, rec.index);
        g.checks.guard(() => g.monitor.snapshotTaken(host.id, rec.index, seedDigest(data), imageHash(data)));
        this.w.addReplica(host, rec.group, seededDisk(rec.index, 1, conf, data));
        this.w.trace(K.Cluster, `g${group} split at ${rec.index}: ${host.id} starts g${rec.group} (slots ${rec.slots[0]}-${rec.slots[1]}) from its image`);
      },
      (err) => this.w.groups.get(group)!.checks.failed(r, 'the split image failed', err),
    );
  }

  confChanged(group: GroupId, conf: ConfState): void {
    const g = findGroup(this.map, group);
    if (!g) return;
    const ops: ShardOpBody[] = [];
    for (const node of [...conf.learners, ...conf.voters]) {
      if (!g.voters.includes(node) && !g.learners.includes(node)) ops.push({ type: 'addLearner', group, node });
    }
    for (const node of conf.voters) if (!g.voters.includes(node)) ops.push({ type: 'promote', group, node });
    for (const node of [...g.voters, ...g.learners]) {
      if (!conf.voters.includes(node) && !conf.learners.includes(node)) ops.push({ type: 'removeReplica', group, node });
    }
    for (const op of ops) {
      const res = apply(this.map, { ...op, epoch: this.map.epoch } as Parameters<typeof apply>[1]);
      if (res.error) this.w.trace(K.Cluster, `map refused ${op.type} ${'node' in op ? op.node : ''} of g${group}: ${res.error}`);
      else if (res.map !== this.map) this.setMap(res.map, `${op.type} ${'node' in op ? op.node : ''} of g${group}`);
    }
  }

  /** A node ticked: its leaders record their splits and clean up; skipped split entries start their groups empty. */
  ticked(host: HostNode): void {
    for (const [group, r] of host.replicas) {
      const kv = r.kv;
      if (!kv) continue;
      if (r.role === Role.Leader) {
        for (const rec of kv.splits) {
          if (findGroup(this.map, rec.group)) continue;
          // Group 0 takes a while to record it (a round of its own log, the recorder's pass).
          const seen = this.seen.get(rec.group) ?? this.w.time;
          this.seen.set(rec.group, seen);
          if (this.w.time >= seen + this.recordDelay) this.recordSplit(group, rec);
        }
        if (kv.cleanupPending > 0 && this.cleaning.get(r) !== r.incarnation) this.cleanup(group, r);
      }
    }
    if (this.mutate !== 'no-reconcile') this.reconcile(host);
  }

  /**
   * A node hosts exactly the groups the map lists it in, as src/node/store/reconcile.ts keeps
   * them: a group listed and missing here for RECONCILE_TICKS ticks starts empty (to catch up by
   * snapshot), and one hosted here but not listed is retired after as long. A group split off
   * normally starts from the node's own image at the split entry, so a node whose replica of the
   * parent has not reached that entry waits for it; it starts the group empty only when it cannot
   * take the image: its replica of the parent installed a later snapshot, or it has none any more
   * (it was removed from the parent, and dropped, before applying the entry: seed 257 of
   * `--groups 3` left the new group with a voter no node hosted, docs/testing.md).
   */
  private reconcile(host: HostNode): void {
    const count = (key: string, due: boolean) => {
      const n = due ? (this.passes.get(key) ?? 0) + 1 : 0;
      if (n === 0 || n >= RECONCILE_TICKS) this.passes.delete(key);
      else this.passes.set(key, n);
      return n >= RECONCILE_TICKS;
    };
    for (const g of this.map.groups) {
      const listed = g.voters.includes(host.id) || g.learners.includes(host.id);
      if (g.id === 0) continue;
      if (host.replicas.has(g.id)) {
        if (!count(`retire ${host.id} ${g.id}`, !listed)) continue;
        this.w.trace(K.Cluster, `${host.id} retires g${g.id} (the map does not list it)`);
        this.w.dropReplica(host, g.id);
        continue;
      }
      const split = this.owners.splitOf(g.id);
      const parent = split && host.replicas.get(split.parent);
      const waiting = parent !== undefined && parent.applied < split!.index;
      if (!count(`start ${host.id} ${g.id}`, listed && !waiting)) continue;
      const why = !split
        ? 'the map lists it'
        : parent
          ? `its g${split.parent} skipped the split entry at ${split.index}`
          : `it no longer hosts g${split.parent}`;
      this.w.trace(K.Cluster, `${host.id} starts g${g.id} empty (${why})`);
      this.w.addReplica(host, g.id, Disk.fresh());
    }
  }

  private recordSplit(parent: GroupId, rec: SplitRecord): void {
    const op = { type: 'split' as const, epoch: this.map.epoch, group: parent, atSlot: rec.slots[0], newGroup: rec.group };
    const res = apply(this.map, op);
    if (res.error) {
      this.w.fail(Invariant.KeyOwnership, `the map refused g${parent}'s split into g${rec.group}: ${res.error}`);
      return;
    }
    this.setMap(res.map, `g${parent} split: slots ${rec.slots[0]}-${rec.slots[1]} to g${rec.group}`);
    // The map's split gives the new group the parent's replicas as the map lists them now; the
    // group's own are the parent's configuration at the split entry. A membership change of the
    // parent recorded in between makes them differ: the record follows the group's own.
    const conf = this.w.groups.get(rec.group)?.conf.conf;
    if (conf && this.mutate !== 'map-copies-parent') this.confChanged(rec.group, conf);
  }

  private cleanup(group: GroupId, r: SimNode): void {
    const incarnation = r.incarnation;
    this.cleaning.set(r, incarnation);
    const limit = Math.min(this.dropLimit, MAX_DROP_EXAMINED);
    const done = (what: string) => {
      if (this.cleaning.get(r) === incarnation) this.cleaning.delete(r);
      this.w.trace(K.Cluster, `g${group} cleanup on ${r.id}: ${what}`);
    };
    r.propose([{ type: 'dropUnowned', limit }], this.w.time + 2 * ELECTION).then(
      () => done(`applied, ${r.kv?.cleanupPending ?? '?'} seqs left`),
      (e: Error) => done(e.message),
    );
  }
}
