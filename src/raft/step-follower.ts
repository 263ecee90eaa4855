import { VoteResult } from './quorum.ts';
import type { Raft } from './raft.ts';
import { type Message, MessageType, NONE, ProposalDroppedError, Role } from './types.ts';

/** Step functions of followers, pre-candidates and candidates, and their handling of leader traffic. */

export function stepFollower(r: Raft, m: Message): void {
  switch (m.type) {
    case MessageType.Prop:
      throw new ProposalDroppedError(r.lead === NONE ? 'no leader' : `not the leader (leader is ${r.lead})`);
    case MessageType.App:
      hearFromLeader(r, m);
      handleAppendEntries(r, m);
      return;
    case MessageType.Heartbeat:
      hearFromLeader(r, m);
      handleHeartbeat(r, m);
      return;
    case MessageType.Snap:
      hearFromLeader(r, m);
      handleSnapshot(r, m);
      return;
    case MessageType.TransferLeader:
    case MessageType.ReadIndex:
      if (r.lead === NONE) {
        // The runtime times the request out.
        r.logger('debug', `${r.id} dropped ${m.type}: no leader`);
        return;
      }
      // `narrow` is this node's hint and never leaves it (the wire has no field for it).
      r.send({ ...m, to: r.lead, term: 0, narrow: undefined });
      return;
    case MessageType.TimeoutNow:
      // The leader hands over: campaign at once, skipping PreVote and leader stickiness.
      r.logger('info', `${r.id} received TimeoutNow from ${m.from}`);
      r.hup(true);
      return;
    case MessageType.ReadIndexResp:
      r.readStates.push({ index: m.index, context: m.context ?? new Uint8Array() });
      return;
  }
}

export function stepCandidate(r: Raft, m: Message): void {
  const myResponse = r.role === Role.PreCandidate ? MessageType.PreVoteResp : MessageType.VoteResp;
  switch (m.type) {
    case MessageType.Prop:
      throw new ProposalDroppedError('no leader (election in progress)');
    case MessageType.App:
      r.becomeFollower(m.term, m.from); // a leader of our term exists
      handleAppendEntries(r, m);
      return;
    case MessageType.Heartbeat:
      r.becomeFollower(m.term, m.from);
      handleHeartbeat(r, m);
      return;
    case MessageType.Snap:
      r.becomeFollower(m.term, m.from);
      handleSnapshot(r, m);
      return;
    case MessageType.PreVoteResp:
    case MessageType.VoteResp:
      if (m.type !== myResponse) return;
      switch (r.poll(m.from, !m.reject)) {
        case VoteResult.Won:
          r.wonElection();
          return;
        case VoteResult.Lost:
          r.becomeFollower(r.term, NONE);
          return;
      }
      return;
    case MessageType.ReadIndex:
    case MessageType.TransferLeader:
      r.logger('debug', `${r.id} dropped ${m.type}: no leader`);
      return;
  }
}

function hearFromLeader(r: Raft, m: Message): void {
  r.electionElapsed = 0;
  r.lead = m.from;
}

function handleAppendEntries(r: Raft, m: Message): void {
  if (m.index < r.log.committed) {
    // Everything up to our commit index is known to match; tell the leader where we are.
    r.send({ type: MessageType.AppResp, to: m.from, index: r.log.committed });
    return;
  }
  const lastNew = r.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
  if (lastNew !== undefined) {
    r.send({ type: MessageType.AppResp, to: m.from, index: lastNew });
    return;
  }
  // Reject with a hint: the last index whose term is at most the leader's term at m.index.
  const probe = Math.min(m.index, r.log.lastIndex());
  const hint = r.log.findConflictByTerm(probe, m.logTerm);
  r.send({
    type: MessageType.AppResp,
    to: m.from,
    index: m.index,
    reject: true,
    rejectHint: hint.index,
    logTerm: hint.term,
  });
}

function handleHeartbeat(r: Raft, m: Message): void {
  r.log.commitTo(m.commit);
  r.send({ type: MessageType.HeartbeatResp, to: m.from, ...(m.context ? { context: m.context } : {}) });
}

function handleSnapshot(r: Raft, m: Message): void {
  if (!m.snapshot) return;
  const index = r.restore(m.snapshot) ? r.log.lastIndex() : r.log.committed;
  r.send({ type: MessageType.AppResp, to: m.from, index });
}
