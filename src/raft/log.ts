import { limitSize } from './entry-size.ts';
import { Unstable } from './log-unstable.ts';
import type { Storage } from './storage.ts';
import { CompactedError, type Entry, RaftInvariantError, type Snapshot, UnavailableError } from './types.ts';

/**
 * The node's view of the log: durable entries in Storage followed by unstable ones.
 *
 * Indexes: applied <= applying <= committed <= lastIndex. `applying` is how far committed
 * entries have been handed out in a Ready; `applied` moves on advance.
 */
export class RaftLog {
  readonly unstable: Unstable;
  committed: number;
  applying: number;
  applied: number;

  constructor(
    readonly storage: Storage,
    private readonly maxApplyingBytes: number,
  ) {
    this.unstable = new Unstable(storage.lastIndex() + 1);
    this.committed = storage.firstIndex() - 1;
    this.applying = this.committed;
    this.applied = this.committed;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  /** Term of entry i, valid from firstIndex()-1 to lastIndex(). */
  term(i: number): number {
    const t = this.unstable.maybeTerm(i);
    if (t !== undefined) return t;
    if (i < this.firstIndex() - 1) throw new CompactedError(i);
    if (i > this.lastIndex()) throw new UnavailableError(i);
    return this.storage.term(i);
  }

  matchTerm(i: number, term: number): boolean {
    // Bounds first: every entry of an append beyond our log lands here, and building an error
    // (with its stack) per entry was a measurable part of a follower's CPU.
    const t = this.unstable.maybeTerm(i);
    if (t !== undefined) return t === term;
    if (i < this.firstIndex() - 1 || i > this.lastIndex()) return false;
    try {
      return this.storage.term(i) === term;
    } catch (e) {
      if (e instanceof CompactedError || e instanceof UnavailableError) return false;
      throw e;
    }
  }

  /** Section 5.4.1: is a log ending at (lastIndex, term) at least as up to date as ours? */
  isUpToDate(lastIndex: number, term: number): boolean {
    const ourTerm = this.lastTerm();
    return term > ourTerm || (term === ourTerm && lastIndex >= this.lastIndex());
  }

  /** Index of the first entry in `ents` that we lack or hold with another term; 0 if none. */
  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) if (!this.matchTerm(e.index, e.term)) return e.index;
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term`, with that term (0 if unknown). The
   * leader skips every entry above it in one round trip instead of one per entry.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = index; i > 0; i--) {
      let ours: number;
      try {
        ours = this.term(i);
      } catch (e) {
        if (e instanceof CompactedError || e instanceof UnavailableError) return { index: i, term: 0 };
        throw e;
      }
      if (ours <= term) return { index: i, term: ours };
    }
    return { index: 0, term: 0 };
  }

  /**
   * Section 5.3: accept `ents` after (index, logTerm) if that entry matches. Returns the index
   * of the last new entry, or undefined when the consistency check fails.
   */
  maybeAppend(index: number, logTerm: number, committed: number, ents: readonly Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + ents.length;
    const conflict = this.findConflict(ents);
    if (conflict !== 0) {
      if (conflict <= this.committed) {
        throw new RaftInvariantError(`entry ${conflict} conflicts with committed entry (committed ${this.committed})`);
      }
      this.append(ents.slice(conflict - index - 1));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  append(ents: readonly Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0].index - 1;
    if (after < this.committed) {
      throw new RaftInvariantError(`append after ${after} would truncate committed entries (committed ${this.committed})`);
    }
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /** Entries from `lo` to the end, at most `maxBytes` (but at least one). */
  entries(lo: number, maxBytes: number): Entry[] {
    if (lo > this.lastIndex()) return [];
    return this.slice(lo, this.lastIndex() + 1, maxBytes);
  }

  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo < this.firstIndex()) throw new CompactedError(lo);
    if (hi > this.lastIndex() + 1 || lo > hi) throw new UnavailableError(hi - 1);
    if (lo === hi) return [];
    const offset = this.unstable.offset;
    let ents: Entry[] = [];
    if (lo < offset) {
      const storedHi = Math.min(hi, offset);
      ents = this.storage.entries(lo, storedHi, maxBytes);
      if (ents.length < storedHi - lo) return ents; // cut by size
    }
    if (hi > offset) {
      const tail = this.unstable.slice(Math.max(lo, offset), hi);
      ents = ents.length > 0 ? ents.concat(tail) : tail;
    }
    return limitSize(ents, maxBytes);
  }

  commitTo(i: number): void {
    if (i <= this.committed) return;
    if (i > this.lastIndex()) {
      throw new RaftInvariantError(`commit ${i} is beyond the last index ${this.lastIndex()}`);
    }
    this.committed = i;
  }

  appliedTo(i: number): void {
    if (i === 0) return;
    if (i > this.committed || i < this.applied) {
      throw new RaftInvariantError(`applied ${i} outside [${this.applied}, ${this.committed}]`);
    }
    this.applied = i;
    this.applying = Math.max(this.applying, i);
  }

  hasNextCommittedEnts(): boolean {
    // Entries after a pending snapshot cannot apply before the snapshot is installed.
    if (this.unstable.snapshot) return false;
    return this.applying < this.committed;
  }

  nextCommittedEnts(): Entry[] {
    if (!this.hasNextCommittedEnts()) return [];
    return this.slice(this.applying + 1, this.committed + 1, this.maxApplyingBytes);
  }

  acceptApplying(i: number): void {
    this.applying = Math.max(this.applying, i);
  }

  /** The last index known durable: a leader may count itself only up to here. */
  persistedLastIndex(): number {
    if (this.unstable.snapshot) return 0;
    return Math.min(this.storage.lastIndex(), this.unstable.offset - 1);
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  restore(snap: Snapshot): void {
    this.committed = snap.meta.index;
    this.unstable.restore(snap);
  }
}
