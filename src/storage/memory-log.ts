/**
 * The in-memory image of the durable log, with etcd MemoryStorage's semantics. LevelStorage
 * serves the core's synchronous reads from here and writes every change through to LevelDB.
 *
 * Entries applied and durable may move out of memory (trim): only their terms and sizes stay
 * (evicted-entries.ts), and entries() asks for them to be read back from disk.
 *
 * Every change is planned first (validated against the current state, nothing mutated) and then
 * applied. The plan is also what LevelStorage turns into LevelDB operations, so memory and disk
 * cannot disagree about what a write did, and a rejected write changes neither.
 */
import { entrySize } from '../raft/index.ts';
import {
  CompactedError,
  EntriesNotLoadedError,
  type Entry,
  EntryType,
  type HardState,
  type Snapshot,
  type SnapshotMeta,
  SnapshotOutOfDateError,
  UnavailableError,
} from '../raft/types.ts';
import { InvalidWriteError } from './errors.ts';
import { EvictedEntries } from './evicted-entries.ts';
import { checkNumber, checkRequest } from './log-checks.ts';
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
  // ents[0] is a dummy entry just before the first entry held in memory (at the compaction
  // point unless entries were evicted), as in etcd, so that its term needs no special case.
  private ents: Entry[];
  /** The compaction point: the entry just before the first retained one. */
  private start: LogStart;
  /** Retained entries out of memory: from start.index + 1 through ents[0].index. */
  private evicted: EvictedEntries;
  private snap: SnapshotMeta;
  private snapStored: boolean;
  private hs: HardState;
  private size = 0;

  constructor(state: LogState) {
    this.ents = [dummy(state.start), ...state.entries];
    this.start = state.start;
    this.evicted = new EvictedEntries(state.start.index + 1);
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
    return this.start.index + 1;
  }

  /** The retained entries in memory and out of it, and the bytes of those in memory. */
  memoryStats(): { entries: number; evicted: number; bytes: number } {
    return { entries: this.ents.length - 1, evicted: this.evicted.count, bytes: this.memoryBytes() };
  }

  /** Bytes of the retained entries whose data is in memory. */
  memoryBytes(): number {
    return this.size - this.evicted.bytesHeld;
  }

  /** Size of retained entry i as entrySize measures it (for the snapshotter's tail). */
  sizeAt(i: number): number {
    if (i <= this.start.index || i > this.lastIndex()) throw new RangeError(`sizeAt: ${i} is not a retained entry`);
    return i <= this.evicted.last ? this.evicted.size(i) : entrySize(this.ents[i - this.ents[0].index]);
  }

  lastIndex(): number {
    return this.ents[0].index + this.ents.length - 1;
  }

  /** Number of retained entries. */
  count(): number {
    return this.lastIndex() - this.start.index;
  }

  /** Size of the retained entries as the core measures it (its entrySize, also used for maxBytes). */
  bytes(): number {
    return this.size;
  }

  term(i: number): number {
    const offset = this.ents[0].index;
    if (i >= offset) {
      if (i - offset >= this.ents.length) throw new UnavailableError(i);
      return this.ents[i - offset].term;
    }
    if (i < this.start.index) throw new CompactedError(i);
    return i === this.start.index ? this.start.term : this.evicted.term(i);
  }

  /**
   * Entries in [lo, hi), at most maxBytes (at least one). Out of memory ones come from the block
   * read back from disk (fill); if it does not hold `lo`, EntriesNotLoadedError, and the caller
   * reads them (level-storage.ts) and the core asks again later.
   */
  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const offset = this.ents[0].index;
    if (lo <= this.start.index) throw new CompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1);
    if (lo > hi) throw new RangeError(`entries: lo ${lo} is above hi ${hi}`);
    if (this.count() === 0) throw new UnavailableError(lo);
    if (lo > offset) return limitSize(this.ents.slice(lo - offset, hi - offset), maxBytes);
    const old = this.evicted.read(lo, hi);
    if (old === undefined) throw new EntriesNotLoadedError(lo, offset + 1);
    // The block may end short of memory: the rest is asked for again then.
    if (hi <= offset + 1 || this.evicted.loadedEnd() !== offset + 1) return limitSize(old, maxBytes);
    return limitSize(old.concat(this.ents.slice(1, hi - offset)), maxBytes);
  }

  /**
   * Moves entries out of memory, oldest first and none past `bound` (applied and durable: the
   * caller knows), once more than `keepEntries` or `keepBytes` are in memory; then down to three
   * quarters of each, so the work is done in batches. Their terms and sizes stay; their data is
   * read back from disk when asked for.
   */
  trim(bound: number, keepEntries: number, keepBytes: number): void {
    let count = this.ents.length - 1;
    let bytes = this.memoryBytes();
    if (count <= keepEntries && bytes <= keepBytes) return;
    const last = Math.min(bound, this.lastIndex());
    const entries = Math.floor(keepEntries * 0.75);
    const limit = Math.floor(keepBytes * 0.75);
    let n = 0;
    while (this.ents[n + 1] !== undefined && this.ents[n + 1].index <= last && (count > entries || bytes > limit)) {
      n++;
      this.evicted.push(this.ents[n]);
      count--;
      bytes -= entrySize(this.ents[n]);
    }
    if (n === 0) return;
    const at = this.ents[n];
    this.ents.splice(0, n + 1, dummy({ index: at.index, term: at.term }));
  }

  /** Entries read back from disk, out of memory ones; kept if they agree with the log's terms. */
  fill(entries: readonly Entry[]): number {
    return this.evicted.fill(entries);
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
      if (first.index <= this.ents[0].index && first.index > vStart.index) {
        throw new InvalidWriteError(`cannot overwrite entry ${first.index}: it is applied and out of memory`);
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
      if (plan.retain) this.dropTo(plan.start);
      else {
        this.ents = [dummy(plan.start)];
        this.start = plan.start;
        this.evicted = new EvictedEntries(plan.start.index + 1);
        this.size = 0;
      }
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
    const offset = this.start.index;
    if (index <= offset) throw new CompactedError(index);
    if (index > this.snap.index) {
      throw new InvalidWriteError(`cannot compact to index ${index}: the snapshot is at ${this.snap.index}`);
    }
    return { start: { index, term: this.term(index) }, deleted: [offset + 1, index] };
  }

  applyCompact(plan: CompactPlan): void {
    this.dropTo(plan.start);
  }

  /** Forgets the retained entries up to `start` (a compaction, or a snapshot the log matches). */
  private dropTo(start: LogStart): void {
    const offset = this.ents[0].index;
    if (start.index >= offset) {
      const removed = this.ents.slice(1, start.index - offset + 1);
      this.size -= sumSizes(removed) + this.evicted.bytesHeld;
      this.ents = [dummy(start), ...this.ents.slice(start.index - offset + 1)];
      this.evicted = new EvictedEntries(start.index + 1);
    } else {
      this.size -= this.evicted.bytes(this.start.index + 1, start.index);
      this.evicted.dropTo(start.index);
    }
    this.start = start;
  }
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
