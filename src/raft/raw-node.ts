import { encodeConfChange } from './conf-change.ts';
import { local, validateNetworkMessage } from './message.ts';
import { Raft } from './raft.ts';
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
  ProposalDroppedError,
  type RaftConfig,
  ReadOnlyOption,
  type Ready,
  Role,
  type SoftState,
  type Status,
} from './types.ts';

/**
 * Message types that only the node itself or its runtime may produce. Prop is among them:
 * proposals are accepted only by `propose` on the leader, never forwarded by peers.
 */
const LOCAL_ONLY: ReadonlySet<Message['type']> = new Set([
  MessageType.Prop,
  MessageType.Hup,
  MessageType.Beat,
  MessageType.CheckQuorum,
  MessageType.Unreachable,
  MessageType.SnapStatus,
]);

const RESPONSES: ReadonlySet<Message['type']> = new Set([MessageType.AppResp, MessageType.VoteResp, MessageType.PreVoteResp, MessageType.HeartbeatResp]);

/**
 * The public face of the consensus core, after etcd-io/raft's RawNode. The runtime feeds it
 * ticks, network messages and client requests, then drains `ready()`, persists, sends, applies
 * and calls `advance()`. See the Ready contract in types.ts.
 */
export class RawNode {
  private readonly raft: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.prevSoft = this.raft.softState();
    this.prevHard = this.raft.hardState();
  }

  tick(): void {
    this.raft.tick();
  }

  /** Starts an election now (with PreVote first, if enabled). */
  campaign(): void {
    this.raft.step(local(MessageType.Hup, this.raft.id));
  }

  /** Appends `data` to the leader's log; throws ProposalDroppedError anywhere else. */
  propose(data: Uint8Array): { index: number; term: number } {
    return this.proposeEntry(EntryType.Normal, data);
  }

  /**
   * Appends several entries as one proposal: one append and one App per follower for all of
   * them, instead of one each. Returns the last entry's index; the first is index - n + 1.
   */
  proposeBatch(data: readonly Uint8Array[]): { index: number; term: number } {
    return this.proposeEntries(data.map((d) => ({ term: 0, index: 0, type: EntryType.Normal, data: d })));
  }

  /**
   * Proposes one membership change. Throws ProposalDroppedError while another change (or the
   * leader's no-op) is not yet applied, InvalidConfChangeError for a change leaving no voters.
   */
  proposeConfChange(cc: ConfChange): { index: number; term: number } {
    return this.proposeEntry(EntryType.ConfChange, encodeConfChange(cc));
  }

  private proposeEntry(type: EntryType, data: Uint8Array): { index: number; term: number } {
    return this.proposeEntries([{ term: 0, index: 0, type, data }]);
  }

  private proposeEntries(entries: Entry[]): { index: number; term: number } {
    const r = this.raft;
    if (r.role !== Role.Leader) {
      throw new ProposalDroppedError(r.lead === NONE ? 'no leader' : `not the leader (leader is ${r.lead})`);
    }
    r.step(local(MessageType.Prop, r.id, { entries }));
    return { index: r.log.lastIndex(), term: r.term };
  }

  /**
   * True while a proposed membership change (or a new leader's no-op, which may hide one from an
   * earlier term) is not yet applied; proposeConfChange would throw until it is.
   */
  get confChangePending(): boolean {
    return this.raft.pendingConfIndex > this.raft.log.applied;
  }

  /** Called by the runtime when it applies a committed ConfChange entry. */
  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  /** A message from the network. Local-only types, strangers' responses and bad messages are ignored. */
  step(m: Message): void {
    const r = this.raft;
    const problem = validateNetworkMessage(m);
    if (problem) {
      r.logger('warn', `${r.id} dropped a malformed message: ${problem}`);
      return;
    }
    if (LOCAL_ONLY.has(m.type) || m.to !== r.id || m.from === r.id) return;
    // Only a forwarded read travels without a term; anything else with term 0 would bypass
    // the term rules.
    if (m.term === 0 && m.type !== MessageType.ReadIndex) return;
    if (RESPONSES.has(m.type) && !r.trk.progress.has(m.from)) return;
    r.step(m);
  }

  /**
   * Requests a linearizable read point. The answer appears in `Ready.readStates` with the same
   * context; without a leader the request is dropped and the caller times out. `narrow`: the
   * caller's previous request is still in flight (Message.narrow), so the round may ask only a
   * quorum; off, it asks every follower and takes the fastest answers.
   */
  readIndex(context: Uint8Array, narrow = false): void {
    this.raft.step(local(MessageType.ReadIndex, this.raft.id, narrow ? { context, narrow } : { context }));
  }

  /**
   * The index a lease read may be served at right now, without a round or a Ready: what
   * `readIndex` would answer at once in lease mode (step-leader.ts, handleReadIndex), the commit
   * index, when this node is the leader, has committed an entry of its term and its lease
   * holds. Undefined otherwise (safe mode included): the read takes the `readIndex` path.
   */
  leaseReadIndex(): number | undefined {
    const r = this.raft;
    if (r.role !== Role.Leader || r.readOnlyOption !== ReadOnlyOption.LeaseBased) return undefined;
    if (!r.committedEntryInCurrentTerm() || !r.leaseValid()) return undefined;
    return r.log.committed;
  }

  transferLeadership(to: NodeId): void {
    // As in etcd the transferee travels in `from`; a follower forwards it to the leader.
    this.raft.step(local(MessageType.TransferLeader, to, { to: this.raft.id }));
  }

  reportUnreachable(id: NodeId): void {
    this.raft.step(local(MessageType.Unreachable, id, { to: this.raft.id }));
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    this.raft.step(local(MessageType.SnapStatus, id, { to: this.raft.id, reject: !ok }));
  }

  hasReady(): boolean {
    const r = this.raft;
    if (!sameSoft(r.softState(), this.prevSoft)) return true;
    if (!sameHard(r.hardState(), this.prevHard)) return true;
    if (r.log.unstable.nextSnapshot()) return true;
    if (r.log.unstable.nextEntries().length > 0) return true;
    if (r.msgs.length > 0 || r.readStates.length > 0) return true;
    return r.log.hasNextCommittedEnts();
  }

  /** Takes the pending work. Call `advance` with it once it has been handled. */
  ready(): Ready {
    const r = this.raft;
    const rd: Ready = {
      entries: r.log.unstable.nextEntries(),
      committedEntries: r.log.nextCommittedEnts(),
      messages: r.msgs,
      readStates: r.readStates,
      mustSync: false,
    };
    const soft = r.softState();
    if (!sameSoft(soft, this.prevSoft)) rd.softState = soft;
    const hard = r.hardState();
    if (!sameHard(hard, this.prevHard)) rd.hardState = hard;
    const snap = r.log.unstable.nextSnapshot();
    if (snap) rd.snapshot = snap;
    // A commit index that moved alone need not be fsynced: it can be recomputed after a crash.
    rd.mustSync = rd.entries.length > 0 || rd.snapshot !== undefined || hard.term !== this.prevHard.term || hard.vote !== this.prevHard.vote;

    r.msgs = [];
    r.readStates = [];
    this.prevSoft = soft;
    this.prevHard = hard;
    r.log.unstable.acceptInProgress();
    const lastCommitted = rd.committedEntries.at(-1);
    if (lastCommitted) r.log.acceptApplying(lastCommitted.index);
    return rd;
  }

  /** `rd` has been persisted and applied. */
  advance(rd: Ready): void {
    const r = this.raft;
    const lastEntry = rd.entries.at(-1);
    if (lastEntry) {
      r.log.unstable.stableTo(lastEntry.index, lastEntry.term);
      r.onEntriesPersisted(lastEntry.index, lastEntry.term);
    }
    if (rd.snapshot) {
      r.log.unstable.stableSnapTo(rd.snapshot.meta.index);
      r.log.appliedTo(rd.snapshot.meta.index);
    }
    const lastApplied = rd.committedEntries.at(-1);
    if (lastApplied) r.log.appliedTo(lastApplied.index);
    r.onApplied();
  }

  /** Whether the core is leader right now, even before the Ready that reports it is handled. */
  get isLeader(): boolean {
    return this.raft.role === Role.Leader;
  }

  /** The node leadership is being handed to (NONE when no transfer runs); cheaper than status(). */
  get leadTransferee(): NodeId {
    return this.raft.leadTransferee;
  }

  /** The current term; cheaper than status(). */
  get term(): number {
    return this.raft.term;
  }

  /**
   * On a leader, the lowest index a recently heard-from follower or learner still lacks (its
   * match + 1), if any trails; undefined otherwise. Storage keeps those entries in memory so the
   * next App need not read them back from disk.
   */
  followersNeedFrom(): number | undefined {
    const r = this.raft;
    if (r.role !== Role.Leader) return undefined;
    let need: number | undefined;
    const last = r.log.lastIndex();
    for (const [id, pr] of r.trk.progress) {
      if (id === r.id || !pr.recentActive || pr.match >= last) continue;
      if (need === undefined || pr.match + 1 < need) need = pr.match + 1;
    }
    return need;
  }

  /**
   * The log from `lo` on, durable and unstable entries alike, at most `maxBytes` per call (but
   * at least one entry); [] past the end. For the runtime to read what it has not applied.
   */
  logEntries(lo: number, maxBytes: number): Entry[] {
    return this.raft.log.entries(lo, maxBytes);
  }

  status(): Status {
    const r = this.raft;
    const status: Status = {
      id: r.id,
      term: r.term,
      vote: r.vote,
      commit: r.log.committed,
      applied: r.log.applied,
      lead: r.lead,
      role: r.role,
      conf: r.trk.confState(),
      leadTransferee: r.leadTransferee,
    };
    if (r.role === Role.Leader) {
      status.progress = {};
      for (const [id, pr] of r.trk.progress) status.progress[id] = { match: pr.match, next: pr.next, state: pr.state };
    }
    return status;
  }
}

function sameSoft(a: SoftState, b: SoftState): boolean {
  return a.leader === b.leader && a.role === b.role;
}

function sameHard(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
