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

/** Figure 2 RequestVote receiver: one vote per term, only for an up-to-date log (5.4.1). */
export function handleVoteRequest(r: Raft, m: Message): void {
  const respType = VOTE_RESPONSE[m.type as keyof typeof VOTE_RESPONSE];
  const canVote = r.vote === m.from || (r.vote === NONE && r.lead === NONE) || (m.type === MessageType.PreVote && m.term > r.term);
  if (canVote && r.log.isUpToDate(m.index, m.logTerm)) {
    // A grant carries the candidate's term so that a pre-candidate can tell it apart.
    r.send({ type: respType, to: m.from, term: m.term });
    if (m.type === MessageType.Vote) {
      r.electionElapsed = 0;
      r.vote = m.from;
    }
  } else {
    r.send({ type: respType, to: m.from, term: r.term, reject: true });
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
