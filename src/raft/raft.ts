import { validateConfig } from './config.ts';
import { campaign, handleVoteRequest, hasUnappliedConfChanges, TRANSFER_CONTEXT } from './election.ts';
import { RaftLog } from './log.ts';
import { applyConfChange, restoreSnapshot } from './membership.ts';
import { local, type MessageInit, newMessage, sameBytes } from './message.ts';
import type { VoteResult } from './quorum.ts';
import { type PendingRead, ReadIndexQueue } from './read-index.ts';
import { bcastAppend } from './replication.ts';
import { stepCandidate, stepFollower } from './step-follower.ts';
import { stepLeader } from './step-leader.ts';
import { ProgressTracker } from './tracker.ts';
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
  ReadOnlyOption as ReadOnly,
  type ReadOnlyOption,
  type ReadState,
  Role,
  type Snapshot,
  type SoftState,
} from './types.ts';

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

  /** Ticks since this node started: the core's only clock. */
  ticks = 0;
  electionElapsed = 0;
  heartbeatElapsed = 0;
  readonly electionTimeout: number;
  readonly heartbeatTimeout: number;
  private randomizedElectionTimeout = 0;

  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  readonly readOnlyOption: ReadOnlyOption;
  readonly maxMsgSize: number;
  private readonly leaseHolds: NonNullable<RaftConfig['leaseHolds']>;

  /** The node leadership is being handed to; proposals are refused meanwhile. */
  leadTransferee: NodeId = NONE;
  /**
   * Set when this leader sends TimeoutNow, for the rest of its term. Voters grant a transferee
   * their vote despite any lease they promised (its vote request carries the transfer context),
   * so from then on another leader may exist while this one's lease seems to hold; the vote
   * request may be delayed past an aborted transfer too, so only a new term clears it.
   */
  leaseRevoked = false;
  /** Index of the latest ConfChange (or the term's no-op); a new one waits until it is applied. */
  pendingConfIndex = 0;
  reads = new ReadIndexQueue();
  /** Ticks left for a TimeoutNow that waits for committed conf changes to be applied. */
  private deferredTransferTicks = 0;
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
    this.leaseHolds = c.leaseHolds ?? (() => false);
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
    if (hs.commit > this.log.lastIndex()) {
      throw new RaftInvariantError(`hard state commit ${hs.commit} is beyond the last index ${this.log.lastIndex()}`);
    }
    // A durable snapshot is committed by definition, even if the stored commit lags behind it.
    this.log.committed = Math.max(hs.commit, this.log.committed);
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
    const jitter = Math.floor(this.random() * this.electionTimeout);
    // Clamped so that a PRNG returning exactly 1 still stays within [e, 2e).
    this.randomizedElectionTimeout = this.electionTimeout + Math.min(Math.max(jitter, 0), this.electionTimeout - 1);
    this.leadTransferee = NONE;
    this.leaseRevoked = false;
    this.deferredTransferTicks = 0;
    this.trk.resetVotes();
    this.trk.resetProgress(this.log.lastIndex(), this.id, this.log.persistedLastIndex());
    this.pendingConfIndex = 0;
    this.reads = new ReadIndexQueue();
    this.pendingReadIndexMessages = [];
  }

  // ---- leases ----

  /**
   * With lease reads, a node that just (re)started may have promised a leader, before it
   * crashed, not to vote for an election timeout; it keeps that promise without remembering it.
   */
  private inStartupLease(): boolean {
    return this.readOnlyOption === ReadOnly.LeaseBased && this.ticks < this.electionTimeout;
  }

  /**
   * Whether this leader may serve a read without a confirmation round: the node, which measures
   * real time, says the lease begun by the latest confirmed round still holds (leaseHolds; the
   * rule is in docs/architecture.md, "The lease rule"). A leadership transfer ends the lease as
   * soon as it starts (see leaseRevoked): dissertation 6.4.1 assumes no other leader can be
   * elected within the lease, which a transfer breaks on purpose.
   */
  leaseValid(): boolean {
    if (this.leadTransferee !== NONE || this.leaseRevoked) return false;
    const round = this.reads.confirmedRound();
    return round > 0 && this.leaseHolds(this.term, round);
  }

  // ---- ticks ----

  tick(): void {
    this.ticks++;
    if (this.role === Role.Leader) this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.deferredTransferTicks > 0) this.deferredTransferTicks--;
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
        const inLease = this.checkQuorum && this.electionElapsed < this.electionTimeout && (this.lead !== NONE || this.inStartupLease());
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
        handleVoteRequest(this, m);
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
    if (hasUnappliedConfChanges(this)) {
      // Our configuration may be more than one change behind: campaigning with it is unsafe.
      this.logger('warn', `${this.id} cannot campaign with committed but unapplied conf changes`);
      // A handoff (TimeoutNow) is kept until they are applied, for at most an election timeout.
      if (transfer) this.deferredTransferTicks = this.electionTimeout;
      return;
    }
    campaign(this, transfer ? 'transfer' : this.preVote ? 'pre-election' : 'election');
  }

  /** The runtime applied entries: run a handoff campaign that was waiting for them. */
  onApplied(): void {
    if (this.deferredTransferTicks > 0 && !hasUnappliedConfChanges(this)) {
      this.deferredTransferTicks = 0;
      this.hup(true);
    }
  }

  poll(id: NodeId, granted: boolean): VoteResult {
    this.trk.recordVote(id, granted);
    return this.trk.voteResult();
  }

  wonElection(): void {
    if (this.role === Role.PreCandidate) {
      campaign(this, 'election');
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

  // ---- leadership transfer, membership, snapshots ----

  abortLeaderTransfer(): void {
    this.leadTransferee = NONE;
  }

  applyConfChange(cc: ConfChange): ConfState {
    return applyConfChange(this, cc);
  }

  restore(snap: Snapshot): boolean {
    return restoreSnapshot(this, snap);
  }

  // ---- output ----

  send(init: MessageInit): void {
    this.msgs.push(newMessage(init, this.id, this.term));
  }
}
