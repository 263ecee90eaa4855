/**
 * What a node reports about itself: its role, term, leader, log positions and configuration
 * (`raftkv status`, /v1/cluster, CLUSTER commands, the metrics), read from the core, the
 * storage and the applier at the moment asked.
 */
import type { RawNode } from '../raft/index.ts';
import type { ConfState, Role } from '../raft/types.ts';
import type { LevelStorage } from '../storage/index.ts';

export interface NodeStatus {
  id: string;
  role: Role;
  term: number;
  leader: string;
  commit: number;
  applied: number;
  lastIndex: number;
  snapshotIndex: number;
  voters: string[];
  learners: string[];
}

/** Where the status is read from. */
export interface StatusSource {
  readonly id: string;
  readonly core: Pick<RawNode, 'status'>;
  readonly storage: Pick<LevelStorage, 'lastIndex' | 'snapshotMeta'>;
  /** The configuration as of the applied index (membership.ts), not the core's newest. */
  conf(): ConfState;
  applied(): number;
}

export function nodeStatus(src: StatusSource): NodeStatus {
  const s = src.core.status();
  const conf = src.conf();
  return {
    id: src.id,
    role: s.role,
    term: s.term,
    leader: s.lead,
    commit: s.commit,
    applied: src.applied(),
    lastIndex: src.storage.lastIndex(),
    snapshotIndex: src.storage.snapshotMeta().index,
    voters: [...conf.voters],
    learners: [...conf.learners],
  };
}
