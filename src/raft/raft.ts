import { applyToConfState } from './conf-change.ts';
import { validateConfig } from './config.ts';
import { RaftLog } from './log.ts';
import { local, sameBytes } from './message.ts';
import { VoteResult } from './quorum.ts';
import { type PendingRead, ReadIndexQueue } from './read-index.ts';
import { bcastAppend, maybeSendAppend, sendTimeoutNow } from './replication.ts';
import { stepCandidate, stepFollower } from './step-follower.ts';
import { stepLeader } from './step-leader.ts';
import {
  type ConfChange,
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  type Message,
  MessageType,
  NONE,
  type NodeId,
  type RaftConfig,
  RaftInvariantError,
  type ReadOnlyOption,
  ReadOnlyOption as ReadOnly,
  type ReadState,
  Role,
  type Snapshot,
  type SoftState,
} from './types.ts';
import { ProgressTracker } from './tracker.ts';

/** Vote context of an election started by TimeoutNow: it overrides leader stickiness. */
export const TRANSFER_CONTEXT = new TextEncoder().encode('transfer');

export type MessageInit = Partial<Message> & Pick<Message, 'type' | 'to'>;

type Campaign = 'pre-election' | 'election' | 'transfer';

const VOTE_RESPONSE = {
  [MessageType.Vote]: MessageType.VoteResp,
  [MessageType.PreVote]: MessageType.PreVoteResp,
} as const;

/**
 * The Raft state machine (one node). Everything is synchronous: inputs are `tick` and `step`,
 * outputs accumulate in `msgs` and `readStates` until RawNode hands them out in a Ready.
 * The per-role logic lives in step-leader.ts and step-follower.ts; replication.ts builds
 * App/Heartbeat/Snap messages.
 */
export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NONE;
  lead: NodeId = NONE;
  role: Role = Role.Follower;
  readonly log: RaftLog;
  readonly trk: ProgressTracker;
  msgs: Message[] = [];
  readStates: ReadState[] = [];

  electionElapsed = 0;
  heartbeatElapsed = 0;
  readonly electionTimeout: number;
  readonly heartbeatTimeout: number;
  private randomizedElectionTimeout = 0;

  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  readonly readOnlyOption: ReadOnlyOption;
  readonly maxMsgSize: number;

  /** The node leadership is being handed to; proposals are refused meanwhile. */
  leadTransferee: NodeId = NONE;
  /** Index of the latest ConfChange (or the term's no-op); a new one waits until it is applied. */
  pendingConfIndex = 0;
  reads = new ReadIndexQueue();
  /** ReadIndex requests that arrived before this leader committed an entry of its term. */
  pendingReadIndexMessages: Message[] = [];

  private readonly random: () => number;
  readonly logger: NonNullable<RaftConfig['logger']>;

  constructor(c: RaftConfig) {
    validateConfig(c);
    this.id = c.id;
    this.electionTimeout = c.electionTick;
    this.heartbeatTimeout = c.heartbeatTick;
    this.checkQuorum = c.checkQuorum ?? false;
    this.preVote = c.preVote ?? false;
    this.readOnlyOption = c.readOnlyOption ?? ReadOnly.Safe;
    this.maxMsgSize = c.maxSizePerMsg ?? Number.POSITIVE_INFINITY;
    this.random = c.random;
    this.logger = c.logger ?? (() => {});
    this.log = new RaftLog(c.storage, c.maxCommittedSizePerReady ?? Number.POSITIVE_INFINITY);
    this.trk = new ProgressTracker(c.maxInflightMsgs ?? 256, c.maxInflightBytes ?? 0);

    const { hardState, confState } = c.storage.initialState();
    this.trk.setConfig(confState, this.log.lastIndex());
    this.loadHardState(hardState);
    if (c.applied) this.log.appliedTo(c.applied);
    this.becomeFollower(this.term, NONE);
  }

  private loadHardState(hs: HardState): void {
    if (hs.commit < this.log.committed || hs.commit > this.log.lastIndex()) {
      throw new RaftInvariantError(
        `hard state commit ${hs.commit} outside [${this.log.committed}, ${this.log.lastIndex()}]`,
      );
    }
    this.log.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  softState(): SoftState {
    return { leader: this.lead, role: this.role };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  // ---- role transitions ----

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.role = Role.Follower;
    this.logger('info', `${this.id} became follower at term ${this.term} (leader ${lead || 'unknown'})`);
  }

  /** A pre-candidate changes neither term nor vote: a partitioned node cannot inflate terms. */
  becomePreCandidate(): void {
    if (this.role === Role.Leader) throw new RaftInvariantError('leader cannot become pre-candidate');
    this.trk.resetVotes();
    this.lead = NONE;
    this.role = Role.PreCandidate;
    this.logger('info', `${this.id} became pre-candidate at term ${this.term}`);
  }

  becomeCandidate(): void {
    if (this.role === Role.Leader) throw new RaftInvariantError('leader cannot become candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = Role.Candidate;
    this.logger('info', `${this.id} became candidate at term ${this.term}`);
  }

  becomeLeader(): void {
    if (this.role === Role.Follower) throw new RaftInvariantError('follower cannot become leader');
    this.reset(this.term);
    this.lead = this.id;
    this.role = Role.Leader;
    const self = this.trk.progress.get(this.id);
    if (self) {
      self.becomeReplicate();
      self.recentActive = true;
    }
    // The no-op commits everything of earlier terms (5.4.2) and gates ReadIndex and conf changes.
    this.appendEntries([{ type: EntryType.Normal, data: new Uint8Array() }]);
    this.pendingConfIndex = this.log.lastIndex();
    this.logger('info', `${this.id} became leader at term ${this.term}`);
  }

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.electionTimeout + Math.floor(this.random() * this.electionTimeout);
    this.leadTransferee = NONE;
    this.trk.resetVotes();
    this.trk.resetProgress(this.log.lastIndex(), this.id, this.log.persistedLastIndex());
    this.pendingConfIndex = 0;
    this.reads = new ReadIndexQueue();
    this.pendingReadIndexMessages = [];
  }

  // ---- ticks ----

  tick(): void {
    if (this.role === Role.Leader) this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.step(local(MessageType.Hup, this.id));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.step(local(MessageType.CheckQuorum, this.id));
      // A transfer that did not finish within an election timeout is abandoned.
      if (this.role === Role.Leader && this.leadTransferee !== NONE) this.abortLeaderTransfer();
    }
    if (this.role !== Role.Leader) return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.step(local(MessageType.Beat, this.id));
    }
  }

  // ---- step: term rules first (figure 2, "all servers"), then the role's step ----

  step(m: Message): void {
    if (m.term > this.term) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        const force = sameBytes(m.context, TRANSFER_CONTEXT);
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeout;
        if (!force && inLease) {
          // Leader stickiness: we heard from a live leader recently, so this candidate is
          // disruptive (e.g. rejoining from a partition). Ignore it without raising our term.
          this.logger('debug', `${this.id} ignored ${m.type} from ${m.from}: leader lease`);
          return;
        }
      }
      if (m.type === MessageType.PreVote) {
        // A pre-vote never changes our term.
      } else if (m.type === MessageType.PreVoteResp && !m.reject) {
        // Granted pre-votes carry the term we will campaign in; it is not ours yet.
      } else if (m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term && m.term !== 0) {
      this.stepStale(m);
      return;
    }

    switch (m.type) {
      case MessageType.Hup:
        this.hup(false);
        return;
      case MessageType.Vote:
      case MessageType.PreVote:
        this.handleVoteRequest(m);
        return;
    }
    switch (this.role) {
      case Role.Leader:
        stepLeader(this, m);
        return;
      case Role.Candidate:
      case Role.PreCandidate:
        stepCandidate(this, m);
        return;
      case Role.Follower:
        stepFollower(this, m);
        return;
    }
  }

  /** A message from an older term is ignored, but some senders must learn our term. */
  private stepStale(m: Message): void {
    if ((this.checkQuorum || this.preVote) && (m.type === MessageType.App || m.type === MessageType.Heartbeat)) {
      // A deposed leader cut off by a partition would otherwise never learn that it lost: with
      // CheckQuorum/PreVote our higher term does not reach it through votes.
      this.send({ type: MessageType.AppResp, to: m.from });
    } else if (m.type === MessageType.PreVote) {
      this.send({ type: MessageType.PreVoteResp, to: m.from, term: this.term, reject: true });
    } else {
      this.logger('debug', `${this.id} ignored ${m.type} from ${m.from} at stale term ${m.term}`);
    }
  }

  private handleVoteRequest(m: Message): void {
    const respType = VOTE_RESPONSE[m.type as keyof typeof VOTE_RESPONSE];
    const canVote =
      this.vote === m.from ||
      (this.vote === NONE && this.lead === NONE) ||
      (m.type === MessageType.PreVote && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // A grant carries the candidate's term so that a pre-candidate can tell it apart.
      this.send({ type: respType, to: m.from, term: m.term });
      if (m.type === MessageType.Vote) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: respType, to: m.from, term: this.term, reject: true });
    }
  }

  // ---- elections ----

  /** Learners, removed nodes and nodes waiting for a snapshot never campaign. */
  promotable(): boolean {
    return this.trk.isVoter(this.id) && this.log.unstable.snapshot === undefined;
  }

  hup(transfer: boolean): void {
    if (this.role === Role.Leader) return;
    if (!this.promotable()) {
      this.logger('warn', `${this.id} is not promotable and will not campaign`);
      return;
    }
    if (this.hasUnappliedConfChanges()) {
      this.logger('warn', `${this.id} cannot campaign with committed but unapplied conf changes`);
      return;
    }
    this.campaign(transfer ? 'transfer' : this.preVote ? 'pre-election' : 'election');
  }

  private hasUnappliedConfChanges(): boolean {
    if (this.log.applied >= this.log.committed) return false;
    const ents = this.log.slice(this.log.applied + 1, this.log.committed + 1, Number.POSITIVE_INFINITY);
    return ents.some((e) => e.type === EntryType.ConfChange);
  }

  private campaign(kind: Campaign): void {
    let voteType: typeof MessageType.Vote | typeof MessageType.PreVote;
    let term: number;
    if (kind === 'pre-election') {
      this.becomePreCandidate();
      voteType = MessageType.PreVote;
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteType = MessageType.Vote;
      term = this.term;
    }
    // Our own vote first: a single voter wins at once. (It is persisted with the Ready that
    // carries the requests, before they leave.)
    if (this.poll(this.id, true) === VoteResult.Won) {
      this.wonElection();
      return;
    }
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const id of this.trk.voters) {
      if (id === this.id) continue;
      this.send({
        type: voteType,
        to: id,
        term,
        index: lastIndex,
        logTerm: lastTerm,
        ...(kind === 'transfer' ? { context: TRANSFER_CONTEXT } : {}),
      });
    }
  }

  poll(id: NodeId, granted: boolean): VoteResult {
    this.trk.recordVote(id, granted);
    return this.trk.voteResult();
  }

  wonElection(): void {
    if (this.role === Role.PreCandidate) {
      this.campaign('election');
    } else {
      this.becomeLeader();
      bcastAppend(this);
    }
  }

  // ---- log ----

  /** Appends entries at the end of the leader's log (its own match moves only on advance). */
  appendEntries(ents: Pick<Entry, 'type' | 'data'>[]): void {
    const last = this.log.lastIndex();
    this.log.append(ents.map((e, i) => ({ term: this.term, index: last + 1 + i, type: e.type, data: e.data })));
  }

  /** Advances the commit index to what a quorum stores, for entries of this term only (5.4.2). */
  maybeCommit(): boolean {
    const index = this.trk.committed();
    if (index <= this.log.committed || this.log.term(index) !== this.term) return false;
    this.log.commitTo(index);
    return true;
  }

  committedEntryInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  /** The runtime made entries up to (index, term) durable: the leader may now count itself. */
  onEntriesPersisted(index: number, term: number): void {
    if (this.role !== Role.Leader || !this.log.matchTerm(index, term)) return;
    const self = this.trk.progress.get(this.id);
    if (self?.maybeUpdate(index) && this.maybeCommit()) this.onCommitAdvanced();
  }

  /** Called by the leader whenever its commit index moved. */
  onCommitAdvanced(): void {
    bcastAppend(this);
    if (this.committedEntryInCurrentTerm() && this.pendingReadIndexMessages.length > 0) {
      const waiting = this.pendingReadIndexMessages;
      this.pendingReadIndexMessages = [];
      for (const m of waiting) stepLeader(this, m);
    }
  }

  // ---- reads ----

  /** Hands a confirmed read to whoever asked: the local runtime or a follower. */
  respondToRead(read: Pick<PendingRead, 'from' | 'context'>, index: number): void {
    if (read.from === NONE || read.from === this.id) {
      this.readStates.push({ index, context: read.context });
    } else {
      this.send({ type: MessageType.ReadIndexResp, to: read.from, index, context: read.context });
    }
  }

  // ---- leadership transfer and membership ----

  abortLeaderTransfer(): void {
    this.leadTransferee = NONE;
  }

  applyConfChange(cc: ConfChange): ConfState {
    const next = applyToConfState(this.trk.confState(), cc);
    if (next.voters.length === 0) {
      // Proposals are validated, so this only happens for a hand-crafted entry. Ignoring it is
      // deterministic on every replica, where throwing would stop the whole cluster.
      this.logger('warn', `${this.id} ignored conf change ${cc.type} ${cc.node}: it leaves no voters`);
      return this.trk.confState();
    }
    this.trk.setConfig(next, this.log.lastIndex());
    if (this.role !== Role.Leader) return next;
    if (!this.trk.isVoter(this.id)) {
      this.stepDownAfterRemoval();
      return next;
    }
    if (this.leadTransferee !== NONE && !this.trk.isVoter(this.leadTransferee)) this.abortLeaderTransfer();
    // The quorum may have shrunk, and new members need their first probe.
    if (this.maybeCommit()) this.onCommitAdvanced();
    else for (const id of this.trk.progress.keys()) if (id !== this.id) maybeSendAppend(this, id, false);
    return next;
  }

  /** A leader no longer among the voters hands off to the most caught-up voter and steps down. */
  private stepDownAfterRemoval(): void {
    let best: NodeId = NONE;
    let bestMatch = -1;
    for (const id of this.trk.voters) {
      const match = this.trk.progress.get(id)?.match ?? 0;
      if (match > bestMatch) {
        best = id;
        bestMatch = match;
      }
    }
    if (best !== NONE) sendTimeoutNow(this, best);
    this.becomeFollower(this.term, NONE);
  }

  /** Installs a snapshot sent by the leader; false if it brings nothing new. */
  restore(snap: Snapshot): boolean {
    const { index, term, conf } = snap.meta;
    if (index <= this.log.committed) return false;
    if (!conf.voters.includes(this.id) && !conf.learners.includes(this.id)) {
      this.logger('warn', `${this.id} ignored a snapshot at ${index} whose configuration excludes it`);
      return false;
    }
    if (this.log.matchTerm(index, term)) {
      // We already have the entry: just learn that it is committed.
      this.log.commitTo(index);
      return false;
    }
    this.log.restore(snap);
    this.trk.setConfig(conf, this.log.lastIndex());
    this.logger('info', `${this.id} restored snapshot at ${index} (term ${term})`);
    return true;
  }

  // ---- output ----

  send(init: MessageInit): void {
    const m: Message = {
      from: this.id,
      term: 0,
      logTerm: 0,
      index: 0,
      entries: [],
      commit: 0,
      reject: false,
      rejectHint: 0,
      ...init,
    };
    const isVote = m.type in VOTE_RESPONSE || m.type === MessageType.VoteResp || m.type === MessageType.PreVoteResp;
    if (isVote) {
      if (m.term === 0) throw new RaftInvariantError(`${m.type} needs an explicit term`);
    } else if (m.type !== MessageType.Prop && m.type !== MessageType.ReadIndex) {
      // Forwarded proposals and reads keep term 0: they are valid in any term.
      m.term = this.term;
    }
    this.msgs.push(m);
  }
}
