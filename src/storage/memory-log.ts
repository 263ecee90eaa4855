/**
 * The in-memory image of the durable log, with etcd MemoryStorage's semantics. LevelStorage
 * serves the core's synchronous reads from here and writes every change through to LevelDB.
 *
 * Every change is planned first (validated against the current state, nothing mutated) and then
 * applied. The plan is also what LevelStorage turns into LevelDB operations, so memory and disk
 * cannot disagree about what a write did, and a rejected write changes neither.
 */
import { entrySize } from '../raft/index.ts';
import {
  CompactedError,
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  type Snapshot,
  type SnapshotMeta,
  SnapshotOutOfDateError,
  UnavailableError,
} from '../raft/types.ts';
import { InvalidWriteError } from './errors.ts';
import type { LogStart } from './records.ts';

export interface LogState {
  hardState: HardState;
  /** Only the metadata is kept: the data lives on disk (level-storage.ts reads it on demand). */
  snapshot: SnapshotMeta;
  /**
   * False while the snapshot is the implicit empty one at index 0. A store may then take a real
   * snapshot at index 0: the runtime bootstraps a new cluster's configuration that way.
   */
  snapshotStored: boolean;
  /** The compaction point: the entry just before the first retained one. */
  start: LogStart;
  /** Retained entries, contiguous from start.index + 1. */
  entries: Entry[];
}

export interface SaveRequest {
  hardState?: HardState;
  entries?: Entry[];
  snapshot?: Snapshot;
}

/** What one save() changes, in the order the changes apply. */
export interface SavePlan {
  /** A received snapshot replacing the current one; the log up to its index goes. */
  snapshot?: Snapshot;
  /** The new compaction point (set with a snapshot). */
  start?: LogStart;
  /** Whether the entries after the snapshot's index stay (the log matched the snapshot there). */
  retain?: boolean;
  /** Inclusive index ranges of entries removed (by the snapshot or by truncation). */
  deleted: Array<[from: number, to: number]>;
  /** Entries written, contiguous; they overwrite any entries at the same indexes. */
  appended: Entry[];
  hardState?: HardState;
}

export interface CompactPlan {
  start: LogStart;
  deleted: [from: number, to: number];
}

const dummy = (s: LogStart): Entry => ({ index: s.index, term: s.term, type: EntryType.Normal, data: new Uint8Array(0) });

export class MemoryLog {
  // ents[0] is a dummy entry at the compaction point, as in etcd, so that term(firstIndex - 1)
  // needs no special case.
  private ents: Entry[];
  private snap: SnapshotMeta;
  private snapStored: boolean;
  private hs: HardState;
  private size = 0;

  constructor(state: LogState) {
    this.ents = [dummy(state.start), ...state.entries];
    this.snap = state.snapshot;
    this.snapStored = state.snapshotStored;
    this.hs = state.hardState;
    for (const e of state.entries) this.size += entrySize(e);
  }

  hardState(): HardState {
    return this.hs;
  }

  snapshotMeta(): SnapshotMeta {
    return this.snap;
  }

  /** False while the snapshot is the implicit empty one (index 0, no data on disk). */
  snapshotStored(): boolean {
    return this.snapStored;
  }

  firstIndex(): number {
    return this.ents[0].index + 1;
  }

  lastIndex(): number {
    return this.ents[0].index + this.ents.length - 1;
  }

  /** Number of retained entries. */
  count(): number {
    return this.ents.length - 1;
  }

  /** Size of the retained entries as the core measures it (its entrySize, also used for maxBytes). */
  bytes(): number {
    return this.size;
  }

  term(i: number): number {
    const offset = this.ents[0].index;
    if (i < offset) throw new CompactedError(i);
    if (i - offset >= this.ents.length) throw new UnavailableError(i);
    return this.ents[i - offset].term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const offset = this.ents[0].index;
    if (lo <= offset) throw new CompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1);
    if (lo > hi) throw new RangeError(`entries: lo ${lo} is above hi ${hi}`);
    if (this.ents.length === 1) throw new UnavailableError(lo);
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxBytes);
  }

  planSave(req: SaveRequest): SavePlan {
    checkRequest(req);
    const plan: SavePlan = { deleted: [], appended: [] };
    let vStart: LogStart = { index: this.ents[0].index, term: this.ents[0].term };
    let vLast = this.lastIndex();
    let vSnapIndex = this.snap.index;
    // Terms of the log as it will be once the snapshot (if any) is in.
    let vTerm = (i: number) => this.term(i);

    if (req.snapshot) {
      const s = req.snapshot.meta;
      this.checkNewer(s.index);
      // Raft paper, section 7: if the log already holds the snapshot's last entry, the entries
      // after it stay; otherwise the snapshot replaces the whole log.
      const retain = s.index <= vLast && this.term(s.index) === s.term;
      const dropTo = retain ? s.index : vLast;
      if (dropTo > vStart.index) plan.deleted.push([vStart.index + 1, dropTo]);
      plan.snapshot = req.snapshot;
      plan.start = { index: s.index, term: s.term };
      plan.retain = retain;
      if (!retain) vLast = s.index;
      vStart = plan.start;
      vSnapIndex = s.index;
      const start = vStart;
      vTerm = (i: number) => (i === start.index ? start.term : this.term(i));
    }

    // Entries at or below the snapshot are committed and already in the snapshot: skip them, as
    // MemoryStorage skips entries below its first index.
    const incoming = (req.entries ?? []).filter((e) => e.index > vSnapIndex);
    if (incoming.length > 0) {
      const first = incoming[0];
      if (first.index > vLast + 1) {
        throw new InvalidWriteError(`cannot append entry ${first.index}: the log ends at index ${vLast}`);
      }
      let prevTerm = vTerm(first.index - 1);
      let prevIndex = first.index - 1;
      for (const e of incoming) {
        if (e.index !== prevIndex + 1) throw new InvalidWriteError(`entries are not contiguous at index ${e.index}`);
        if (e.term < prevTerm) {
          throw new InvalidWriteError(`entry ${e.index} has term ${e.term}, below the previous entry's term ${prevTerm}`);
        }
        prevTerm = e.term;
        prevIndex = e.index;
      }
      // As MemoryStorage.Append: everything after the new entries goes.
      if (prevIndex < vLast) plan.deleted.push([prevIndex + 1, vLast]);
      plan.appended = incoming;
      vLast = prevIndex;
    }

    let hs = req.hardState;
    const s = req.snapshot?.meta;
    // The snapshot proves its index committed; keep the durable commit consistent with it.
    if (s && (hs ?? this.hs).commit < s.index) hs = { ...(hs ?? this.hs), commit: s.index };
    if (hs) {
      if (hs.commit > vLast) throw new InvalidWriteError(`commit index ${hs.commit} is beyond the last index ${vLast}`);
      if (hs.commit < vSnapIndex) {
        throw new InvalidWriteError(`commit index ${hs.commit} is below the snapshot index ${vSnapIndex}`);
      }
      plan.hardState = hs;
    } else if (this.hs.commit > vLast) {
      throw new InvalidWriteError(`truncating to index ${vLast} would drop committed entries up to ${this.hs.commit}`);
    }
    return plan;
  }

  applySave(plan: SavePlan): void {
    if (plan.snapshot && plan.start) {
      const kept = plan.retain ? this.ents.slice(plan.start.index - this.ents[0].index + 1) : [];
      this.ents = [dummy(plan.start), ...kept];
      this.size = sumSizes(kept);
      this.snap = plan.snapshot.meta;
      this.snapStored = true;
    }
    if (plan.appended.length > 0) {
      const keep = plan.appended[0].index - this.ents[0].index;
      for (let i = keep; i < this.ents.length; i++) this.size -= entrySize(this.ents[i]);
      this.ents.length = keep;
      for (const e of plan.appended) {
        this.ents.push(owned(e));
        this.size += entrySize(e);
      }
    }
    if (plan.hardState) this.hs = plan.hardState;
  }

  /** Validates a locally created snapshot at `index` and returns the term of that entry. */
  checkNewSnapshot(index: number): number {
    checkNumber('snapshot index', index);
    this.checkNewer(index);
    if (index > this.lastIndex()) {
      throw new InvalidWriteError(`cannot snapshot at index ${index}: the log ends at ${this.lastIndex()}`);
    }
    if (index > this.hs.commit) {
      throw new InvalidWriteError(`cannot snapshot at index ${index}: only ${this.hs.commit} is committed`);
    }
    return this.term(index);
  }

  /** Installs a locally created snapshot (checked by checkNewSnapshot); the log is unchanged. */
  setSnapshot(snap: SnapshotMeta): void {
    this.snap = snap;
    this.snapStored = true;
  }

  private checkNewer(index: number): void {
    const current = this.snapStored ? this.snap.index : -1;
    if (index <= current) throw new SnapshotOutOfDateError(index, this.snap.index);
  }

  planCompact(index: number): CompactPlan {
    checkNumber('compaction index', index);
    const offset = this.ents[0].index;
    if (index <= offset) throw new CompactedError(index);
    if (index > this.snap.index) {
      throw new InvalidWriteError(`cannot compact to index ${index}: the snapshot is at ${this.snap.index}`);
    }
    return { start: { index, term: this.term(index) }, deleted: [offset + 1, index] };
  }

  applyCompact(plan: CompactPlan): void {
    const offset = this.ents[0].index;
    const removed = this.ents.slice(1, plan.start.index - offset + 1);
    this.size -= sumSizes(removed);
    this.ents = [dummy(plan.start), ...this.ents.slice(plan.start.index - offset + 1)];
  }
}

const ENTRY_TYPES: ReadonlySet<unknown> = new Set(Object.values(EntryType));

/** Rejects values the record format cannot hold, so that encoding never fails halfway. */
function checkRequest(req: SaveRequest): void {
  for (const e of req.entries ?? []) {
    checkNumber('entry index', e.index);
    checkNumber(`term of entry ${e.index}`, e.term);
    if (!ENTRY_TYPES.has(e.type)) throw new InvalidWriteError(`entry ${e.index} has unknown type ${String(e.type)}`);
    if (!(e.data instanceof Uint8Array)) throw new InvalidWriteError(`entry ${e.index} data is not a Uint8Array`);
  }
  if (req.hardState) {
    checkNumber('hard state term', req.hardState.term);
    checkNumber('commit index', req.hardState.commit);
    if (typeof req.hardState.vote !== 'string') throw new InvalidWriteError('hard state vote is not a string');
  }
  if (req.snapshot) {
    checkNumber('snapshot index', req.snapshot.meta.index);
    checkNumber('snapshot term', req.snapshot.meta.term);
    checkConf(req.snapshot.meta.conf);
    if (!(req.snapshot.data instanceof Uint8Array)) throw new InvalidWriteError('snapshot data is not a Uint8Array');
  }
}

export function checkConf(conf: ConfState): void {
  const ok = (a: unknown) => Array.isArray(a) && a.every((id) => typeof id === 'string');
  if (!ok(conf?.voters) || !ok(conf?.learners)) throw new InvalidWriteError('conf state must list voters and learners as strings');
}

function checkNumber(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidWriteError(`${what} ${n} is not a non-negative integer`);
}

/** The longest prefix within maxBytes, but never empty (etcd's limitSize). */
function limitSize(ents: Entry[], maxBytes: number): Entry[] {
  if (ents.length === 0) return ents;
  let size = entrySize(ents[0]);
  let limit = 1;
  for (; limit < ents.length; limit++) {
    size += entrySize(ents[limit]);
    if (size > maxBytes) break;
  }
  return limit === ents.length ? ents : ents.slice(0, limit);
}

function sumSizes(ents: Entry[]): number {
  let n = 0;
  for (const e of ents) n += entrySize(e);
  return n;
}

/**
 * The entry with data that owns its memory. An entry's bytes are often a view: into Node's shared
 * 8 KiB Buffer pool (a proposal's encodeEntry) or into a received frame (a follower's). Kept for
 * as long as the log holds it, such a view pins the whole slab or frame; the bench's soak found
 * ~7,000 pool slabs held by as many entries on a leader. A copy of the exact size pins nothing.
 */
function owned(e: Entry): Entry {
  const d = e.data;
  if (d.byteLength === d.buffer.byteLength) return e;
  return { term: e.term, index: e.index, type: e.type, data: new Uint8Array(d) };
}
