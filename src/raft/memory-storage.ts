import { limitSize } from './entry-size.ts';
import type { Storage } from './storage.ts';
import {
  CompactedError,
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  NONE,
  type Snapshot,
  SnapshotOutOfDateError,
  UnavailableError,
} from './types.ts';

/**
 * An in-memory Storage for tests and the simulator. `ents[0]` is a dummy entry standing for the
 * snapshot's index and term, so `term(snapshotIndex)` works without special cases.
 *
 * `initialState().confState` is the configuration as of the last applied entry: the owner calls
 * `setConfState` after applying a ConfChange, just as a durable storage would record it.
 */
export class MemoryStorage implements Storage {
  private hardState: HardState = { term: 0, vote: NONE, commit: 0 };
  private snap: Snapshot;
  private confState: ConfState;
  private ents: Entry[];

  constructor(conf: ConfState = { voters: [], learners: [] }) {
    this.confState = copyConf(conf);
    this.snap = { meta: { index: 0, term: 0, conf: copyConf(conf) }, data: new Uint8Array() };
    this.ents = [dummy(0, 0)];
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: { ...this.hardState }, confState: copyConf(this.confState) };
  }

  setHardState(hs: HardState): void {
    this.hardState = { ...hs };
  }

  setConfState(conf: ConfState): void {
    this.confState = copyConf(conf);
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const offset = this.ents[0].index;
    if (lo <= offset) throw new CompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1);
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxBytes);
  }

  term(i: number): number {
    const offset = this.ents[0].index;
    if (i < offset) throw new CompactedError(i);
    if (i - offset >= this.ents.length) throw new UnavailableError(i);
    return this.ents[i - offset].term;
  }

  firstIndex(): number {
    return this.ents[0].index + 1;
  }

  lastIndex(): number {
    return this.ents[0].index + this.ents.length - 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replaces everything with a snapshot received from the leader. */
  applySnapshot(snap: Snapshot): void {
    if (snap.meta.index <= this.snap.meta.index) {
      throw new SnapshotOutOfDateError(snap.meta.index, this.snap.meta.index);
    }
    this.snap = snap;
    this.confState = copyConf(snap.meta.conf);
    this.ents = [dummy(snap.meta.index, snap.meta.term)];
  }

  /** Records a snapshot of the state machine at `index` (which must be applied); does not compact. */
  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.meta.index) throw new SnapshotOutOfDateError(index, this.snap.meta.index);
    if (index > this.lastIndex()) throw new UnavailableError(index);
    this.snap = { meta: { index, term: this.term(index), conf: copyConf(conf) }, data };
    return this.snap;
  }

  /** Drops entries up to and including `index`. */
  compact(index: number): void {
    const offset = this.ents[0].index;
    if (index <= offset) throw new CompactedError(index);
    if (index > this.lastIndex()) throw new UnavailableError(index);
    const rest = this.ents.slice(index - offset + 1);
    this.ents = [dummy(index, this.term(index)), ...rest];
  }

  /** Appends entries, replacing any existing suffix they conflict with. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[entries.length - 1].index;
    if (last < first) return; // entirely compacted already
    const fresh = first > entries[0].index ? entries.slice(first - entries[0].index) : entries;
    const offset = fresh[0].index - this.ents[0].index;
    if (offset > this.ents.length) throw new UnavailableError(fresh[0].index - 1);
    this.ents = [...this.ents.slice(0, offset), ...fresh];
  }
}

function dummy(index: number, term: number): Entry {
  return { index, term, type: EntryType.Normal, data: new Uint8Array() };
}

function copyConf(c: ConfState): ConfState {
  return { voters: [...c.voters], learners: [...c.learners] };
}
