import { decodeConfChange, validateConfChange } from './conf-change.ts';
import type { Raft } from './raft.ts';
import { decodeRound } from './read-index.ts';
import { bcastAppend, bcastHeartbeat, maybeSendAppend, sendAppend, sendReadRound, sendTimeoutNow } from './replication.ts';
import { EntryType, type Message, MessageType, NONE, ProgressState, ProposalDroppedError, ReadOnlyOption } from './types.ts';

/** The leader's step function. Throws ProposalDroppedError for a proposal it cannot take. */
export function stepLeader(r: Raft, m: Message): void {
  switch (m.type) {
    case MessageType.Beat:
      // Lease mode renews its lease with every heartbeat; safe mode starts rounds only for reads.
      bcastHeartbeat(r, r.reads.heartbeatRound(r.readOnlyOption === ReadOnlyOption.LeaseBased));
      return;
    case MessageType.CheckQuorum:
      if (!r.trk.quorumActive(r.id)) {
        r.logger('warn', `${r.id} stepped down: no quorum heard within an election timeout`);
        r.becomeFollower(r.term, NONE);
        return;
      }
      r.trk.markAllInactive(r.id);
      return;
    case MessageType.Prop:
      appendProposal(r, m);
      return;
    case MessageType.ReadIndex:
      handleReadIndex(r, m);
      return;
  }

  // Everything else is about one member's progress.
  const pr = r.trk.progress.get(m.from);
  if (!pr) return;
  switch (m.type) {
    case MessageType.AppResp:
      pr.recentActive = true;
      handleAppendResponse(r, m);
      return;
    case MessageType.HeartbeatResp:
      pr.recentActive = true;
      pr.msgAppFlowPaused = false;
      if (pr.match < r.log.lastIndex() || pr.state === ProgressState.Probe) sendAppend(r, m.from);
      if (m.context) {
        const round = decodeRound(m.context);
        if (round !== undefined) {
          r.reads.ack(m.from, round);
          releaseConfirmedReads(r);
        }
      }
      return;
    case MessageType.SnapStatus:
      if (pr.state !== ProgressState.Snapshot) return;
      // On failure forget the snapshot so the next probe starts from what the follower has.
      if (m.reject) pr.pendingSnapshot = 0;
      pr.becomeProbe();
      // Wait for a heartbeat response before probing again, as the follower may still be busy.
      pr.msgAppFlowPaused = true;
      return;
    case MessageType.Unreachable:
      // Optimistic replication into a broken link only piles up losses: go back to probing.
      if (pr.state === ProgressState.Replicate) pr.becomeProbe();
      return;
    case MessageType.TransferLeader:
      handleTransferLeader(r, m);
      return;
  }
}

function appendProposal(r: Raft, m: Message): void {
  if (m.entries.length === 0) throw new ProposalDroppedError('empty proposal');
  if (!r.trk.progress.has(r.id)) throw new ProposalDroppedError('leader was removed from the configuration');
  if (r.leadTransferee !== NONE) throw new ProposalDroppedError(`leadership transfer to ${r.leadTransferee} in progress`);
  const changes = m.entries.filter((e) => e.type === EntryType.ConfChange);
  if (changes.length > 1) throw new ProposalDroppedError('only one configuration change per proposal');
  if (changes.length === 1) {
    // Single-server changes are safe only one at a time: the previous one must be applied.
    if (r.pendingConfIndex > r.log.applied) throw new ProposalDroppedError('a configuration change is still pending');
    validateConfChange(r.trk.confState(), decodeConfChange(changes[0].data));
    r.pendingConfIndex = r.log.lastIndex() + 1 + m.entries.indexOf(changes[0]);
  }
  r.appendEntries(m.entries);
  bcastAppend(r);
}

function handleAppendResponse(r: Raft, m: Message): void {
  const pr = r.trk.progress.get(m.from)!;
  if (m.reject) {
    // Fast backtracking: jump over the follower's whole run of entries from terms we do not share.
    let hint = m.rejectHint;
    if (m.logTerm > 0) hint = r.log.findConflictByTerm(m.rejectHint, m.logTerm).index;
    if (pr.maybeDecrTo(m.index, hint)) {
      if (pr.state === ProgressState.Replicate) pr.becomeProbe();
      sendAppend(r, m.from);
    }
    return;
  }
  const wasPaused = pr.isPaused();
  if (pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === ProgressState.Probe)) {
    if (pr.state === ProgressState.Probe) {
      pr.becomeReplicate();
    } else if (pr.state === ProgressState.Snapshot && pr.match + 1 >= r.log.firstIndex()) {
      // The snapshot (or entries) got the follower past our compaction point: stream again.
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === ProgressState.Replicate) {
      pr.inflights.freeLE(m.index);
    }
    if (r.maybeCommit()) r.onCommitAdvanced();
    else if (wasPaused) sendAppend(r, m.from);
    // Fill the window while there is something to send.
    while (maybeSendAppend(r, m.from, false)) {
      /* keep sending */
    }
    if (m.from === r.leadTransferee && pr.match === r.log.lastIndex()) {
      r.logger('info', `${r.id} sends TimeoutNow to ${m.from}: it has caught up`);
      sendTimeoutNow(r, m.from);
    }
  }
}

function handleTransferLeader(r: Raft, m: Message): void {
  const transferee = m.from;
  if (r.trk.isLearner(transferee)) {
    r.logger('debug', `${r.id} refuses to transfer leadership to learner ${transferee}`);
    return;
  }
  if (r.leadTransferee !== NONE) {
    if (r.leadTransferee === transferee) return;
    r.abortLeaderTransfer();
  }
  if (transferee === r.id) return;
  // The transfer must finish within one election timeout (tickHeartbeat aborts it).
  r.electionElapsed = 0;
  r.leadTransferee = transferee;
  const pr = r.trk.progress.get(transferee)!;
  if (pr.match === r.log.lastIndex()) sendTimeoutNow(r, transferee);
  else sendAppend(r, transferee);
}

/**
 * Dissertation 6.4: record the commit index, then confirm leadership. Postponed until this
 * leader has committed an entry of its own term, since before that its commit index may lag.
 */
function handleReadIndex(r: Raft, m: Message): void {
  const context = m.context ?? new Uint8Array();
  if (!r.committedEntryInCurrentTerm()) {
    r.pendingReadIndexMessages.push(m);
    return;
  }
  const index = r.log.committed;
  if (r.readOnlyOption === ReadOnlyOption.LeaseBased && r.leaseValid()) {
    // No other leader can exist before the lease runs out (see read-index.ts).
    r.respondToRead({ from: m.from, context }, index);
    return;
  }
  // Safe mode, or a lease that lapsed: confirm leadership with a round.
  const round = r.reads.add({ from: m.from, context, index, narrow: m.narrow === true });
  if (round !== undefined) sendReadRound(r, round);
  releaseConfirmedReads(r);
}

function releaseConfirmedReads(r: Raft): void {
  const { released, nextRound } = r.reads.release(r.trk.voters, r.id);
  for (const read of released) r.respondToRead(read, read.index);
  if (nextRound !== undefined) sendReadRound(r, nextRound);
}
