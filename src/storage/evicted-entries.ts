/**
 * What the in-memory log (memory-log.ts) still knows of the entries it moved out of memory: the
 * applied, durable entries older than its tail, which stay in LevelDB until compaction. The core
 * still asks for their terms (an App's previous entry, a follower's conflict hint) and the
 * snapshotter for their sizes, so each keeps its size (one small integer) and the terms are kept
 * as runs (a term changes only at an election). Their data comes back only when a trailing
 * follower needs it, read from disk by level-storage.ts into one loaded block.
 *
 * Why: a log held whole in memory duplicates the keyspace between snapshots (issue 15: up to
 * snapshot-entries entries or snapshot-bytes bytes per group). etcd keeps its log in memory;
 * CockroachDB and TiKV read old entries from their engine through a bounded entry cache, as
 * this does.
 */
import { entrySize } from '../raft/index.ts';
import type { Entry } from '../raft/types.ts';

export class EvictedEntries {
  /** Index of the first entry held; the last is `from + sizes.length - 1`. */
  private from: number;
  private sizes: number[] = [];
  /** Sum of sizes. */
  private total = 0;
  /** Runs of equal terms: runStarts[k] is the first index of a run whose entries have runTerms[k]. */
  private runStarts: number[] = [];
  private runTerms: number[] = [];
  /** Entries read back from disk: contiguous from loaded[0].index, all within the held range. */
  private loaded: Entry[] = [];

  constructor(from: number) {
    this.from = from;
  }

  /** Index of the last entry held (from - 1 when none). */
  get last(): number {
    return this.from + this.sizes.length - 1;
  }

  get count(): number {
    return this.sizes.length;
  }

  /** Takes the next entry's term and size (its index must be `last + 1`). */
  push(e: Entry): void {
    const n = this.runTerms.length;
    if (n === 0 || this.runTerms[n - 1] !== e.term) {
      this.runStarts.push(e.index);
      this.runTerms.push(e.term);
    }
    const size = entrySize(e);
    this.sizes.push(size);
    this.total += size;
  }

  /** Bytes of every entry held. */
  get bytesHeld(): number {
    return this.total;
  }

  /** Term of entry i, which must be held. */
  term(i: number): number {
    // The last run starting at or before i (terms only grow along the log).
    let lo = 0;
    let hi = this.runStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.runStarts[mid] <= i) lo = mid;
      else hi = mid - 1;
    }
    return this.runTerms[lo];
  }

  size(i: number): number {
    return this.sizes[i - this.from];
  }

  /** Bytes of the held entries in [lo, hi]. */
  bytes(lo: number, hi: number): number {
    let n = 0;
    for (let i = Math.max(lo, this.from); i <= Math.min(hi, this.last); i++) n += this.sizes[i - this.from];
    return n;
  }

  /** Forgets the entries at or below `index` (compaction); the next one held is then `index + 1`. */
  dropTo(index: number): void {
    if (index < this.from) return;
    if (index >= this.last) {
      this.from = index + 1;
      this.sizes = [];
      this.total = 0;
      this.runStarts = [];
      this.runTerms = [];
      this.loaded = [];
      return;
    }
    for (const n of this.sizes.splice(0, index - this.from + 1)) this.total -= n;
    this.from = index + 1;
    // Keep the run holding the new first entry, starting it there.
    let k = 0;
    while (k + 1 < this.runStarts.length && this.runStarts[k + 1] <= this.from) k++;
    this.runStarts.splice(0, k);
    this.runTerms.splice(0, k);
    this.runStarts[0] = this.from;
    this.loaded = this.loaded.filter((e) => e.index >= this.from);
  }

  /**
   * Keeps `entries`, read back from disk, if they are contiguous, start at a held index and agree
   * with the held terms; the part past the held range is ignored. Returns how many were kept.
   */
  fill(entries: readonly Entry[]): number {
    const keep: Entry[] = [];
    for (const e of entries) {
      const expected = keep.length === 0 ? e.index : keep[keep.length - 1].index + 1;
      if (e.index !== expected || e.index < this.from || e.index > this.last || this.term(e.index) !== e.term) break;
      keep.push(e);
    }
    if (keep.length > 0) this.loaded = keep;
    return keep.length;
  }

  /**
   * The loaded entries from `lo` up to `hi` (exclusive) or the end of the block, or undefined
   * when the block does not hold `lo`.
   */
  read(lo: number, hi: number): Entry[] | undefined {
    const block = this.loaded;
    if (block.length === 0 || lo < block[0].index || lo > block[block.length - 1].index) return undefined;
    const base = block[0].index;
    return block.slice(lo - base, Math.min(hi, block[block.length - 1].index + 1) - base);
  }

  /** Index just past the loaded block's end (0 when nothing is loaded). */
  loadedEnd(): number {
    const block = this.loaded;
    return block.length === 0 ? 0 : block[block.length - 1].index + 1;
  }
}
