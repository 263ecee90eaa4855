import { applyToConfState } from './conf-change.ts';
import type { Raft } from './raft.ts';
import { bcastAppend, sendTimeoutNow } from './replication.ts';
import { type ConfChange, type ConfState, NONE, type NodeId, Role, type Snapshot } from './types.ts';

/**
 * Configuration changes as they are applied, and snapshot installation (which also replaces
 * the configuration). The configuration in force is always the one last applied; the leader
 * admits one change at a time (see appendProposal), so consecutive configurations differ by one
 * server and any two of their majorities overlap.
 */

export function applyConfChange(r: Raft, cc: ConfChange): ConfState {
  const next = applyToConfState(r.trk.confState(), cc);
  if (next.voters.length === 0) {
    // Proposals are validated, so only a hand-crafted entry gets here. Ignoring it is
    // deterministic on every replica, where throwing would stop the whole cluster.
    r.logger('warn', `${r.id} ignored conf change ${cc.type} ${cc.node}: it leaves no voters`);
    return r.trk.confState();
  }
  r.trk.setConfig(next, r.log.lastIndex());
  if (r.role !== Role.Leader) return next;
  if (!r.trk.isVoter(r.id)) {
    stepDownAfterRemoval(r);
    return next;
  }
  if (r.leadTransferee !== NONE && !r.trk.isVoter(r.leadTransferee)) r.abortLeaderTransfer();
  // The quorum may have shrunk; new members get their first probe right away.
  if (r.maybeCommit()) r.onCommitAdvanced();
  else bcastAppend(r);
  return next;
}

/** A leader no longer among the voters hands off to the most caught-up voter and steps down. */
function stepDownAfterRemoval(r: Raft): void {
  let best: NodeId = NONE;
  let bestMatch = -1;
  for (const id of r.trk.voters) {
    const match = r.trk.progress.get(id)?.match ?? 0;
    if (match > bestMatch) {
      best = id;
      bestMatch = match;
    }
  }
  r.logger('info', `${r.id} was removed from the configuration and steps down`);
  if (best !== NONE) sendTimeoutNow(r, best);
  r.becomeFollower(r.term, NONE);
}

/** Installs a snapshot sent by the leader; false if it brings nothing new. */
export function restoreSnapshot(r: Raft, snap: Snapshot): boolean {
  const { index, term, conf } = snap.meta;
  if (index <= r.log.committed) return false;
  const inSnapshot = conf.voters.includes(r.id) || conf.learners.includes(r.id);
  // A joining node is in no configuration until it applies its own AddLearner, and the leader's
  // latest snapshot may predate that entry: refusing it would strand the joiner for good.
  if (!inSnapshot && (r.trk.isVoter(r.id) || r.trk.isLearner(r.id))) {
    r.logger('warn', `${r.id} ignored a snapshot at ${index} whose configuration excludes it`);
    return false;
  }
  if (r.log.matchTerm(index, term)) {
    // We already have the entry: just learn that it is committed.
    r.log.commitTo(index);
    return false;
  }
  r.log.restore(snap);
  r.trk.setConfig(conf, r.log.lastIndex());
  r.logger('info', `${r.id} restored snapshot at ${index} (term ${term})`);
  return true;
}
