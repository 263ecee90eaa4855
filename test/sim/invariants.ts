/**
 * The Raft safety properties (Figure 3 of the paper), checked incrementally as the simulation
 * runs, so that checking after every step costs O(new work) rather than O(log length):
 *
 * - Election Safety: at most one leader per term.
 * - Leader Append-Only: a leader never overwrites or deletes entries of its durable log.
 * - Log Matching: every (index, term) pair ever persisted anywhere names one entry, always
 *   preceded by the same term; by induction two logs that share an (index, term) share the
 *   whole prefix.
 * - Leader Completeness: a new leader of term T holds every entry committed in a term < T.
 * - State Machine Safety: replicas apply the same entry at every index, in order, only once it
 *   is committed, and snapshots carry the state of exactly that prefix (chained digests).
 * - Committed entries survive: a committed index never changes term, and no voter lacking the
 *   latest committed entry could gather a quorum of votes (5.4.1) with the durable logs as they
 *   are, so it can never be overwritten.
 */
import type { Entry, HardState, NodeId, Snapshot } from '../../src/raft/index.ts';
import type { SaveRequest } from '../../src/storage/memory-log.ts';

/** What the monitor reads of a node's disk (a MemoryLog). */
export interface DurableLog {
  firstIndex(): number;
  lastIndex(): number;
  term(i: number): number;
  snapshotMeta(): { index: number };
  hardState(): HardState;
}

export const Invariant = {
  ElectionSafety: 'election-safety',
  LeaderAppendOnly: 'leader-append-only',
  LogMatching: 'log-matching',
  LeaderCompleteness: 'leader-completeness',
  StateMachineSafety: 'state-machine-safety',
  CommittedLost: 'committed-entry-lost',
  /** A committed entry is stamped before one applied ahead of it (docs/architecture.md, timestamp rule). */
  Timestamps: 'entry-timestamps',
  /** The core threw (RaftInvariantError or any other exception). */
  CoreError: 'core-error',
  Liveness: 'liveness',
  Linearizability: 'linearizability',
  /** Multi-group runs: a group's store owns a slot the split entries gave elsewhere, or a map disagrees (groups/ownership.ts). */
  KeyOwnership: 'key-ownership',
} as const;
export type Invariant = (typeof Invariant)[keyof typeof Invariant];

export class InvariantViolation extends Error {
  override name = 'InvariantViolation';
  constructor(
    readonly invariant: Invariant,
    message: string,
  ) {
    super(`${invariant}: ${message}`);
  }
}

interface LoggedEntry {
  type: number;
  data: Uint8Array;
  /** Term of the entry before it, or -1 when it was persisted right after a snapshot we cannot see past. */
  prevTerm: number;
}

/** Whether `disk` durably holds (index, term), counting a snapshot at or past it. */
export function holds(disk: DurableLog, index: number, term: number): boolean {
  const snapIndex = disk.firstIndex() - 1;
  if (index < snapIndex) return true;
  if (index > disk.lastIndex()) return false;
  return disk.term(index) === term;
}

export class SafetyMonitor {
  private readonly leaders = new Map<number, NodeId>();
  /** The term in which each node currently leads. */
  private readonly leading = new Map<NodeId, number>();
  private readonly logged = new Map<string, LoggedEntry>();
  /** committedTerm[i]: the term of the entry committed at i; commitTerm[i]: the term it was first known committed in. */
  private readonly committedTerm: number[] = [];
  private readonly commitTerm: number[] = [];
  maxCommitted = 0;
  /** Per node, the highest commit index already checked against its disk. */
  private readonly commitChecked = new Map<NodeId, number>();
  private readonly appliedTerm: number[] = [];
  private readonly digests = new Map<number, number>();
  private readonly imageAt = new Map<number, number>();
  private readonly lastApplied = new Map<NodeId, number>();

  private fail(invariant: Invariant, message: string): never {
    throw new InvariantViolation(invariant, message);
  }

  /** A node (re)started from its disk. */
  started(id: NodeId, disk: DurableLog): void {
    this.leading.delete(id);
    this.lastApplied.set(id, disk.snapshotMeta().index);
    this.commitChecked.set(id, Math.max(disk.firstIndex() - 1, Math.min(disk.hardState().commit, disk.lastIndex())));
  }

  /**
   * Before a Ready of `id` is persisted; `leaderTerm` is set when `id` led when it took the
   * Ready. With asynchronous writes that may be long before its save is durable, and `id` may
   * have stepped down since: what a leader wrote must still only extend its log.
   */
  beforePersist(id: NodeId, disk: DurableLog, rd: SaveRequest, leaderTerm: number | undefined): void {
    const first = rd.entries?.[0];
    if (leaderTerm !== undefined && this.leaders.get(leaderTerm) === id) {
      if (rd.snapshot) this.fail(Invariant.LeaderAppendOnly, `leader ${id} (term ${leaderTerm}) installs a snapshot`);
      if (first && first.index <= disk.lastIndex()) {
        this.fail(Invariant.LeaderAppendOnly, `leader ${id} (term ${leaderTerm}) overwrites its log from index ${first.index} (last ${disk.lastIndex()})`);
      }
    }
  }

  /** After a Ready of `id` was persisted: register its entries and its commit index. */
  afterPersist(id: NodeId, disk: DurableLog, rd: SaveRequest): void {
    if (rd.snapshot) this.commitChecked.set(id, Math.max(this.commitChecked.get(id) ?? 0, rd.snapshot.meta.index));
    const entries = rd.entries ?? [];
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k];
      let prevTerm = -1;
      if (k > 0) prevTerm = entries[k - 1].term;
      else if (e.index - 1 >= disk.firstIndex() - 1) prevTerm = disk.term(e.index - 1);
      this.logEntry(id, e, prevTerm);
    }
    const hs = rd.hardState;
    if (!hs) return;
    const from = (this.commitChecked.get(id) ?? 0) + 1;
    if (hs.commit > disk.lastIndex()) {
      this.fail(Invariant.CommittedLost, `${id} persisted commit ${hs.commit} beyond its durable last index ${disk.lastIndex()}`);
    }
    for (let i = Math.max(from, disk.firstIndex() - 1); i <= hs.commit; i++) {
      if (i === 0) continue;
      this.commit(id, i, disk.term(i), hs.term);
    }
    if (hs.commit >= from) this.commitChecked.set(id, hs.commit);
  }

  private logEntry(id: NodeId, e: Entry, prevTerm: number): void {
    const key = `${e.index}:${e.term}`;
    const seen = this.logged.get(key);
    if (!seen) {
      this.logged.set(key, { type: e.type, data: e.data, prevTerm });
      return;
    }
    if (seen.type !== e.type || !sameBytes(seen.data, e.data)) {
      this.fail(Invariant.LogMatching, `${id} persisted a different entry at index ${e.index} term ${e.term}`);
    }
    if (seen.prevTerm >= 0 && prevTerm >= 0 && seen.prevTerm !== prevTerm) {
      this.fail(Invariant.LogMatching, `${id} has (${e.index}, term ${e.term}) after term ${prevTerm}, another log after term ${seen.prevTerm}`);
    }
    if (seen.prevTerm < 0) seen.prevTerm = prevTerm;
  }

  /**
   * `id`, in `nodeTerm`, treats (index, term) as committed before the hard state saying so is
   * durable: asynchronous writes apply committed entries at once. Checked as a persisted commit.
   */
  claimCommitted(id: NodeId, index: number, term: number, nodeTerm: number): void {
    this.commit(id, index, term, nodeTerm);
  }

  private commit(id: NodeId, index: number, term: number, nodeTerm: number): void {
    const known = this.committedTerm[index];
    if (known === undefined) {
      this.committedTerm[index] = term;
      this.commitTerm[index] = nodeTerm;
      this.maxCommitted = Math.max(this.maxCommitted, index);
    } else if (known !== term) {
      this.fail(Invariant.CommittedLost, `${id} commits index ${index} with term ${term}, but term ${known} was committed there`);
    } else if (nodeTerm < this.commitTerm[index]) {
      this.commitTerm[index] = nodeTerm;
    }
  }

  /** The committed term at `index`, if known. */
  committedAt(index: number): number | undefined {
    return this.committedTerm[index];
  }

  /** `id` leads in `term` now (called after every Ready; `disk` holds its whole log). */
  leader(id: NodeId, term: number, disk: DurableLog): void {
    if (this.leading.get(id) === term) return;
    const other = this.leaders.get(term);
    if (other !== undefined && other !== id) this.fail(Invariant.ElectionSafety, `${other} and ${id} both lead term ${term}`);
    this.leaders.set(term, id);
    this.leading.set(id, term);
    for (let c = this.maxCommitted; c > 0; c--) {
      const t = this.committedTerm[c];
      if (t === undefined || this.commitTerm[c] >= term) continue;
      if (!holds(disk, c, t)) {
        this.fail(Invariant.LeaderCompleteness, `new leader ${id} of term ${term} lacks committed entry ${c} (term ${t})`);
      }
      // Log Matching (checked separately) extends this to every earlier committed entry.
      return;
    }
  }

  notLeader(id: NodeId): void {
    this.leading.delete(id);
  }

  /** `id` applied `e`; `digest` is its state machine digest afterwards. */
  applied(id: NodeId, e: Entry, digest: number): void {
    const last = this.lastApplied.get(id) ?? 0;
    if (e.index !== last + 1) this.fail(Invariant.StateMachineSafety, `${id} applied index ${e.index} after ${last}`);
    this.lastApplied.set(id, e.index);
    const committed = this.committedTerm[e.index];
    if (committed !== e.term) {
      this.fail(
        Invariant.StateMachineSafety,
        `${id} applied index ${e.index} term ${e.term}, committed there: ${committed === undefined ? 'nothing' : `term ${committed}`}`,
      );
    }
    const term = this.appliedTerm[e.index];
    if (term !== undefined && term !== e.term) {
      this.fail(Invariant.StateMachineSafety, `${id} applied term ${e.term} at index ${e.index}, others term ${term}`);
    }
    this.appliedTerm[e.index] = e.term;
    this.digestMatches(id, e.index, digest);
  }

  /** `id` installed a snapshot; `digest` is the state it carries. */
  restored(id: NodeId, snap: Snapshot, digest: number): void {
    const last = this.lastApplied.get(id) ?? 0;
    if (snap.meta.index <= last) {
      this.fail(Invariant.StateMachineSafety, `${id} installed a snapshot at ${snap.meta.index} after applying ${last}`);
    }
    const committed = this.committedTerm[snap.meta.index];
    if (committed !== undefined && committed !== snap.meta.term) {
      this.fail(Invariant.StateMachineSafety, `${id} installed a snapshot of (${snap.meta.index}, term ${snap.meta.term}), committed: term ${committed}`);
    }
    this.lastApplied.set(id, snap.meta.index);
    this.digestMatches(id, snap.meta.index, digest);
  }

  /**
   * A snapshot was taken from `id`'s state machine at `index`; `image` hashes its bytes.
   * Replicas that applied the same log write byte-identical images (src/kv/snapshot.ts), so
   * this compares the state machines themselves, not just the entries they applied.
   */
  snapshotTaken(id: NodeId, index: number, digest: number, image: number): void {
    this.digestMatches(id, index, digest);
    const known = this.imageAt.get(index);
    if (known === undefined) this.imageAt.set(index, image);
    else if (known !== image) this.fail(Invariant.StateMachineSafety, `${id}'s state machine image at index ${index} differs from another replica's`);
  }

  /** The digest of the state at `index`, known once any node applied or restored up to it. */
  digestAt(index: number): number | undefined {
    return this.digests.get(index);
  }

  private digestMatches(id: NodeId, index: number, digest: number): void {
    const known = this.digests.get(index);
    if (known === undefined) this.digests.set(index, digest);
    else if (known !== digest) this.fail(Invariant.StateMachineSafety, `${id} state at index ${index} differs from another replica's`);
  }

  /**
   * A committed entry can never be lost: no voter whose disk lacks the latest committed entry may
   * be able to win an election, i.e. the voters whose logs it is at least as up to date as
   * (5.4.1), itself included, must not form a quorum of the configuration in force. With the
   * commit rule of 5.4.2 the holders of the entry always outnumber them; counting replicas of an
   * older term's entry breaks this the moment it commits, long before a leader overwrites it.
   */
  committedSafe(voters: readonly NodeId[], disks: (id: NodeId) => DurableLog | undefined): void {
    const c = this.maxCommitted;
    if (c === 0) return;
    const term = this.committedTerm[c];
    const logs = voters.map((id) => {
      const disk = disks(id);
      if (!disk) return { id, lastTerm: 0, lastIndex: 0, has: false };
      const lastIndex = disk.lastIndex();
      return { id, lastTerm: disk.term(lastIndex), lastIndex, has: holds(disk, c, term) };
    });
    const quorum = Math.floor(voters.length / 2) + 1;
    for (const x of logs) {
      if (x.has) continue;
      const electors = logs.filter((y) => x.lastTerm > y.lastTerm || (x.lastTerm === y.lastTerm && x.lastIndex >= y.lastIndex));
      if (electors.length >= quorum) {
        this.fail(
          Invariant.CommittedLost,
          `committed entry ${c} (term ${term}) is not on ${x.id}'s disk (last ${x.lastIndex}, term ${x.lastTerm}), yet ${electors
            .map((y) => y.id)
            .join(', ')} would elect it: a quorum of ${voters.join(', ')}`,
        );
      }
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
