import type { ConfState, Entry, HardState, Snapshot } from './types.ts';

/**
 * What the core reads of the durable log. Synchronous on purpose: the core is a pure state
 * machine. The LevelDB-backed storage keeps the terms of the whole retained log and the data of
 * its unapplied tail in memory and writes through to disk, so reads here never wait on I/O;
 * older entries' data is read back on demand (EntriesNotLoadedError).
 *
 * Errors: `term`/`entries` throw CompactedError below firstIndex and UnavailableError past
 * lastIndex; `entries` may throw EntriesNotLoadedError for applied entries out of memory (the
 * core sends nothing now and tries again on the follower's next response); `snapshot` may throw
 * SnapshotTemporarilyUnavailableError.
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
