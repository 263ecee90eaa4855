import type { ConfState, Entry, HardState, Snapshot } from './types.ts';

/**
 * What the core reads of the durable log. Synchronous on purpose: the core is a pure state
 * machine. The LevelDB-backed storage keeps the retained log tail in memory (it is bounded by
 * compaction) and writes through to disk, so reads here never wait on I/O.
 *
 * Errors: `term`/`entries` throw CompactedError below firstIndex and UnavailableError past
 * lastIndex; `snapshot` may throw SnapshotTemporarilyUnavailableError.
 */
export interface Storage {
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries in [lo, hi), at least one if any exist, at most `maxBytes` in total beyond the first. */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** Term of entry i; valid for firstIndex()-1 (the snapshot's index) through lastIndex(). */
  term(i: number): number;
  /** Index of the first entry still in the log (snapshot index + 1). */
  firstIndex(): number;
  lastIndex(): number;
  /** The most recent snapshot. */
  snapshot(): Snapshot;
}
