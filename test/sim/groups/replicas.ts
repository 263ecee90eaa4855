/**
 * What a multi-group run is made of (issue 13): simulated nodes that each host replicas of
 * several Raft groups, one sim-node unit set (sim-node.ts: core, Ready loop, applier, KvStore,
 * waiters) per group, each with its own SimStorage on the node's disk; and per group, the
 * safety bookkeeping of the single-group runs (a SafetyMonitor and its Checks: log indexes are
 * per group, so each group is judged on its own).
 *
 * A replica never starts from an empty log unless it joins by snapshot: as src/node/store/seed.ts
 * writes a new group's first state, a group of the initial layout starts from a snapshot at
 * (1, 1) holding its share of the slots, and a group split off starts on every replica of its
 * parent from the image that replica took at the split entry, at that entry's (index, term),
 * with the parent's configuration there. The node's address book is left out of the seed: the
 * simulated network routes by node id.
 */
import { createHash } from 'node:crypto';
import { type ConfState, NONE, type NodeId } from '../../../src/raft/index.ts';
import { MemoryLog } from '../../../src/storage/memory-log.ts';
import { Checks } from '../checks.ts';
import { fnv, GENESIS_DIGEST } from '../digest.ts';
import { SafetyMonitor } from '../invariants.ts';
import type { SimNode } from '../sim-node.ts';
import { Disk } from '../sim-storage.ts';
import type { TraceKind } from '../trace.ts';

export type GroupId = number;

/** A simulated node: one process whose replicas share its fate (a crash kills them all) and its links. */
export class HostNode {
  /** The replicas it hosts now, by group (a dropped one is gone; a move back makes a new one). */
  readonly replicas = new Map<GroupId, SimNode>();
  up = true;
  /** Bumped by every crash: a restart scheduled for an earlier life does nothing. */
  life = 0;

  constructor(readonly id: NodeId) {}
}

/** One group's safety bookkeeping and the configuration in force (the latest any replica applied). */
export class GroupState {
  readonly monitor = new SafetyMonitor();
  readonly checks: Checks;
  conf: { index: number; conf: ConfState };

  constructor(
    readonly id: GroupId,
    conf: ConfState,
    index: number,
    trace: (kind: TraceKind, text: string) => void,
  ) {
    this.checks = new Checks({ monitor: this.monitor, trace: (kind, text) => trace(kind, `g${id} ${text}`) });
    this.conf = { index, conf };
  }

  member(id: NodeId): boolean {
    return this.conf.conf.voters.includes(id) || this.conf.conf.learners.includes(id);
  }
}

/**
 * A disk holding a group's first state, as seedGroup writes it: a snapshot at (index, term) of
 * `conf` whose data is the state machine's image, and a hard state committing it.
 */
export function seededDisk(index: number, term: number, conf: ConfState, data: Uint8Array): Disk {
  const log = new MemoryLog({
    hardState: { term, vote: NONE, commit: index },
    snapshot: { index, term, conf: { voters: [...conf.voters], learners: [...conf.learners] } },
    snapshotStored: true,
    start: { index, term },
    entries: [],
  });
  const disk = new Disk(log);
  disk.data = data;
  return disk;
}

/** The bytes of an image (a SnapshotWriter), copied chunk by chunk. */
export async function imageBytes(writer: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of writer) parts.push(Uint8Array.from(chunk));
  return Buffer.concat(parts);
}

/** The digest a seeded state starts from: replicas seeding the same bytes start from the same. */
export function seedDigest(data: Uint8Array): number {
  return fnv(GENESIS_DIGEST, data);
}

/** The hash the monitor compares images by (checks.ts does the same for snapshots). */
export function imageHash(data: Uint8Array): number {
  return createHash('sha1').update(data).digest().readUInt32LE(0);
}
