import { VoteResult } from './quorum.ts';
import type { Raft } from './raft.ts';
import { EntryType, type Message, MessageType, NONE } from './types.ts';

/** Vote context of an election started by TimeoutNow: it overrides leader stickiness. */
export const TRANSFER_CONTEXT = new TextEncoder().encode('transfer');

export const VOTE_RESPONSE = {
  [MessageType.Vote]: MessageType.VoteResp,
  [MessageType.PreVote]: MessageType.PreVoteResp,
} as const;

/** A pre-election asks without raising terms; a transfer skips it and overrides stickiness. */
export type Campaign = 'pre-election' | 'election' | 'transfer';

/**
 * A replica that knows no configuration and holds no entry: it has never been part of the
 * group, or it is a member's earlier self come back empty under the same id (a replica removed,
 * dropped and added back on the same node, or a node re-added with a wiped disk). Raft's safety
 * assumes a voter keeps what it acknowledged, so such a replica grants no vote: a candidate whose
 * stale configuration still counts it as a voter would otherwise win without a committed entry
 * (found by the simulator: a leader lacking committed entry 49, docs/testing.md). etcd never
 * reuses a member id and CockroachDB gives each replica incarnation its own ReplicaID; here the
 * ids are node names, so the empty replica abstains until the leader's snapshot or entries
 * reach it (a joining replica is a learner until then anyway).
 */
function amnesiac(r: Raft): boolean {
  return r.trk.voters.length === 0 && r.trk.learners.length === 0 && r.log.lastIndex() === 0;
}

/** Figure 2 RequestVote receiver: one vote per term, only for an up-to-date log (5.4.1). */
export function handleVoteRequest(r: Raft, m: Message): void {
  const respType = VOTE_RESPONSE[m.type as keyof typeof VOTE_RESPONSE];
  const canVote = r.vote === m.from || (r.vote === NONE && r.lead === NONE) || (m.type === MessageType.PreVote && m.term > r.term);
  if (canVote && !amnesiac(r) && r.log.isUpToDate(m.index, m.logTerm)) {
    // A grant carries the candidate's term so that a pre-candidate can tell it apart.
    r.send({ type: respType, to: m.from, term: m.term });
    if (m.type === MessageType.Vote) {
      r.electionElapsed = 0;
      r.vote = m.from;
    }
  } else {
    // Term 0 is an abstaining empty replica's (amnesiac) answer to a pre-vote, which does not
    // raise its term: refuse in the term the candidate asked for.
    r.send({ type: respType, to: m.from, term: r.term === 0 ? m.term : r.term, reject: true });
  }
}

/** Committed conf changes not yet applied mean our configuration may be stale. */
export function hasUnappliedConfChanges(r: Raft): boolean {
  if (r.log.applied >= r.log.committed) return false;
  const ents = r.log.slice(r.log.applied + 1, r.log.committed + 1, Number.POSITIVE_INFINITY);
  return ents.some((e) => e.type === EntryType.ConfChange);
}

/** Starts a (pre-)election: become (pre-)candidate and ask every voter. */
export function campaign(r: Raft, kind: Campaign): void {
  let voteType: typeof MessageType.Vote | typeof MessageType.PreVote;
  let term: number;
  if (kind === 'pre-election') {
    r.becomePreCandidate();
    voteType = MessageType.PreVote;
    term = r.term + 1;
  } else {
    r.becomeCandidate();
    voteType = MessageType.Vote;
    term = r.term;
  }
  // Our own vote first: a single voter wins at once. (It is persisted with the Ready that
  // carries the requests, before they leave.)
  if (r.poll(r.id, true) === VoteResult.Won) {
    r.wonElection();
    return;
  }
  const lastIndex = r.log.lastIndex();
  const lastTerm = r.log.lastTerm();
  for (const id of r.trk.voters) {
    if (id === r.id) continue;
    r.send({
      type: voteType,
      to: id,
      term,
      index: lastIndex,
      logTerm: lastTerm,
      ...(kind === 'transfer' ? { context: TRANSFER_CONTEXT } : {}),
    });
  }
}
