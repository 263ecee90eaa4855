/**
 * Keeps the groups a node hosts in line with the slot map and with its groups' own logs
 * (issue 13). Three duties, each idempotent, so a crash or a lost race at any point is finished
 * by the next pass:
 *
 *  - **A split applied here starts the new group here**, from the image the parent's state
 *    machine began at the split entry (seed.ts): every replica of the parent starts the new group
 *    from the same bytes at the same index, so no key crosses the network. A split replayed
 *    after a restart finds the group already on disk and drops its image.
 *  - **A split not yet in the map is recorded there**, by whichever node leads group 0 and hosts
 *    the parent: the parent's log is the truth, the map catches up (until it does, the parent
 *    answers TRYAGAIN for the slots it gave up and routers still send them to it).
 *  - **A group the map gives this node and the node lacks is created empty** (a replica added by
 *    a move, or a split this replica skipped by installing a snapshot past it); its leader sends
 *    it a snapshot. It waits a few passes first, since a lagging replica is usually about to
 *    apply the split itself and start the group from its own image.
 *  - **A group the map lists without this node is retired here** (its replica moved away and
 *    the removal never reached this node's log, as happens to a removed replica the leader stops
 *    talking to), after the same wait.
 *
 * Group creation runs one at a time (`work`), in the order asked.
 */
import { findGroup, METADATA_GROUP, type SlotMap } from '../../shard/index.ts';
import type { StorageEngine } from '../../storage/index.ts';
import type { Logger } from '../logger.ts';
import type { RaftNode } from '../raft-node.ts';
import type { AppliedSplit } from '../wiring.ts';
import { changeMap, MapChangeError } from './map-record.ts';
import { seedGroup } from './seed.ts';

/** What the reconciler needs from the store. */
export interface ReconcileHost {
  readonly self: string;
  readonly engine: StorageEngine;
  readonly groups: ReadonlyMap<number, RaftNode>;
  map(): SlotMap | undefined;
  /** Opens group `id` from its storage (seeded or empty) and starts it. */
  startGroup(id: number): Promise<void>;
  /** A split of this node's is under way: it records itself in the map. */
  splitting(): boolean;
  /** Stops and deletes this node's replica of `id`. */
  retireGroup(id: number): Promise<void>;
}

/** Passes a group must be missing here before it is created empty (see above). */
const MISSING_PASSES = 10;

export class Reconciler {
  private work: Promise<void> = Promise.resolve();
  /** Groups being created (seeded from a split or empty). */
  private readonly creating = new Set<number>();
  private readonly missing = new Map<number, number>();
  private readonly unassigned = new Map<number, number>();
  private recording = false;
  /** The configuration each split applied here gave its new group (the parent's at the entry). */
  private readonly confAtSplit = new Map<number, { voters: string[]; learners: string[] }>();

  constructor(
    private readonly host: ReconcileHost,
    private readonly log: Logger,
  ) {}

  /**
   * The new group's configuration, as the split entry gave it: what the map must record for it
   * (a map that named other replicas would have a node drop a replica the group counts on).
   * From the split as applied here, else from this node's replica of the new group.
   */
  splitConf(group: number): { voters: string[]; learners: string[] } | undefined {
    const conf = this.confAtSplit.get(group) ?? this.host.groups.get(group)?.confState();
    return conf && { voters: [...conf.voters], learners: [...conf.learners] };
  }

  /** Everything queued so far is done. */
  idle(): Promise<void> {
    return this.work;
  }

  /** The parent applied a split (its 'split' event, inside the apply). */
  onSplit(parent: number, node: RaftNode, split: AppliedSplit): void {
    this.confAtSplit.set(split.group, { voters: [...split.conf.voters], learners: [...split.conf.learners] });
    // Taken now: the image is consistent at the split entry whenever it is read (copy on write).
    const image = node.kv.takeSplitImage(split.group);
    this.creating.add(split.group);
    this.enqueue(async () => {
      if (this.host.engine.has(split.group) || this.host.groups.has(split.group) || !image) {
        image?.cancel();
        return;
      }
      const storage = await this.host.engine.createGroup(split.group);
      const clusterId = this.host.engine.group(METADATA_GROUP).clusterId();
      if (clusterId) await storage.setClusterId(clusterId);
      // Term 1: a new Raft group, whose every replica starts from this same (index, term).
      await seedGroup(storage, { conf: split.conf, members: split.members, image, index: split.index, term: 1 });
      this.log.info({ group: split.group, parent, index: split.index, slots: split.slots }, `split: started group ${split.group} from group ${parent}'s image`);
      await this.host.startGroup(split.group);
    }, split.group);
  }

  /** One pass over the map and the local groups (the store's tick). */
  tick(): void {
    const map = this.host.map();
    if (!map) return;
    this.hostAssigned(map);
    this.recordSplits(map);
    this.mirrorMetadata(map);
  }

  /**
   * Group 0's replicas in the map follow its real configuration, which `raftkv member add|remove`
   * changes (the rebalancer leaves them alone): one op per pass, on group 0's leader.
   */
  private mirrorMetadata(map: SlotMap): void {
    const g0 = this.host.groups.get(METADATA_GROUP);
    const inMap = findGroup(map, METADATA_GROUP);
    if (this.recording || this.host.splitting() || !g0?.isLeader() || !inMap) return;
    const conf = g0.confState();
    let body: Parameters<typeof changeMap>[1] | undefined;
    const missing = [...conf.voters, ...conf.learners].find((n) => !inMap.voters.includes(n) && !inMap.learners.includes(n));
    const promoted = conf.voters.find((n) => inMap.learners.includes(n));
    const removed = [...inMap.voters, ...inMap.learners].find((n) => !conf.voters.includes(n) && !conf.learners.includes(n));
    if (missing) body = { type: 'addLearner', group: METADATA_GROUP, node: missing };
    else if (promoted) body = { type: 'promote', group: METADATA_GROUP, node: promoted };
    else if (removed) {
      // The map keeps a voter as the hint: move the hint first if it names the one removed.
      const hint = inMap.leaderHint === removed ? conf.voters[0] : undefined;
      body = hint ? { type: 'setLeaderHint', group: METADATA_GROUP, node: hint } : { type: 'removeReplica', group: METADATA_GROUP, node: removed };
    }
    if (!body) return;
    const change = body;
    this.recording = true;
    changeMap(g0, change)
      .then(
        () => this.log.info({ op: change.type, node: 'node' in change ? change.node : undefined }, "the slot map follows the metadata group's membership"),
        (err: Error) => this.log.debug({ err: err.message }, "could not mirror the metadata group's membership in the slot map yet"),
      )
      .finally(() => {
        this.recording = false;
      });
  }

  private hostAssigned(map: SlotMap): void {
    for (const id of this.host.groups.keys()) {
      const g = findGroup(map, id);
      if (id === METADATA_GROUP || !g || g.voters.includes(this.host.self) || g.learners.includes(this.host.self)) {
        this.unassigned.delete(id);
        continue;
      }
      const passes = (this.unassigned.get(id) ?? 0) + 1;
      this.unassigned.set(id, passes);
      if (passes < MISSING_PASSES) continue;
      this.unassigned.delete(id);
      this.creating.add(id);
      this.enqueue(() => this.host.retireGroup(id), id);
    }
    for (const g of map.groups) {
      const mine = g.voters.includes(this.host.self) || g.learners.includes(this.host.self);
      if (!mine || this.host.groups.has(g.id) || this.creating.has(g.id)) {
        this.missing.delete(g.id);
        continue;
      }
      const passes = (this.missing.get(g.id) ?? 0) + 1;
      this.missing.set(g.id, passes);
      if (passes < MISSING_PASSES) continue;
      this.missing.delete(g.id);
      this.creating.add(g.id);
      this.enqueue(async () => {
        if (!this.host.engine.has(g.id)) await this.host.engine.createGroup(g.id);
        this.log.info({ group: g.id }, `the slot map gives this node a replica of group ${g.id}: hosting it, to be caught up by its leader`);
        await this.host.startGroup(g.id);
      }, g.id);
    }
  }

  private recordSplits(map: SlotMap): void {
    const g0 = this.host.groups.get(METADATA_GROUP);
    if (this.recording || this.host.splitting() || !g0?.isLeader()) return;
    for (const [id, node] of this.host.groups) {
      if (id === METADATA_GROUP) continue;
      const rec = node.kv.splits.find((s) => !findGroup(map, s.group) && this.splitConf(s.group));
      if (!rec) continue;
      this.recording = true;
      changeMap(g0, { type: 'split', group: id, atSlot: rec.slots[0], newGroup: rec.group, ...this.splitConf(rec.group) })
        .then(
          (m) =>
            this.log.info(
              { group: id, newGroup: rec.group, epoch: m.epoch },
              `recorded group ${id}'s split of slots ${rec.slots[0]}-${rec.slots[1]} in the slot map`,
            ),
          (err: Error) => {
            const level = err instanceof MapChangeError ? 'warn' : 'debug';
            this.log[level]({ group: id, newGroup: rec.group, err: err.message }, 'could not record a split in the slot map yet');
          },
        )
        .finally(() => {
          this.recording = false;
        });
      return;
    }
  }

  private enqueue(job: () => Promise<void>, group: number): void {
    this.work = this.work
      .then(job)
      .catch((err: Error) => this.log.error({ err, group }, `could not start group ${group}`))
      .finally(() => this.creating.delete(group));
  }
}
