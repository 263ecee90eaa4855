/**
 * The node's clock for entry timestamps and for reads: the wall clock, but never behind a
 * timestamp the log already holds (docs/architecture.md, "timestamp rule").
 *
 * Apply judges expiry and TTLs by each entry's `ts`, so an entry stamped older than one before
 * it would let time run backwards in the log: a key already expired would come back for later
 * entries. The wall clock alone cannot promise that: a new leader's clock may be behind the old
 * leader's, and a node restored from a snapshot has forgotten the entries it covered. So the
 * clock is raised from three floors, each checked with one compare:
 *  - every applied entry, through the state machine's high-water (KvStore.highTs), which
 *    snapshots carry;
 *  - on a leader, once per term before it stamps anything, the entries after the applied index
 *    (committed or not: a leader commits every one of them before its own), read from the core;
 *  - what it has returned before.
 */
import { entryTs } from '../kv/index.ts';
import { CompactedError, type Entry, EntryType } from '../raft/types.ts';

/** What the clock reads from the consensus core (RawNode). */
export interface ClockCore {
  readonly isLeader: boolean;
  readonly term: number;
  logEntries(lo: number, maxBytes: number): Entry[];
}

export interface ClockSources {
  /** The wall clock (Date.now). */
  wall(): number;
  /** The newest timestamp applied to the state machine (KvStore.highTs). */
  appliedTs(): number;
  /** The last applied log index. */
  applied(): number;
  core(): ClockCore;
}

/** Entries read per call while a new leader scans its log tail. */
const SCAN_BYTES = 4 * 1024 * 1024;

/** The largest `ts` of the KV entries in `entries` (0 if none); other entries are skipped. */
export function maxEntryTs(entries: readonly Entry[]): number {
  let max = 0;
  for (const e of entries) {
    if (e.type !== EntryType.Normal || e.data.length === 0) continue;
    const ts = entryTs(e.data);
    if (ts !== undefined && ts > max) max = ts;
  }
  return max;
}

export class EntryClock {
  private last = 0;
  /** The term whose log tail has been read into `last` (0: none yet; terms start at 1). */
  private leaderTerm = 0;

  constructor(private readonly src: ClockSources) {}

  /** Milliseconds to stamp an entry with, or to judge expiry by on a read. */
  now(): number {
    const core = this.src.core();
    if (core.isLeader && core.term !== this.leaderTerm) this.lead(core);
    let t = this.src.wall();
    const applied = this.src.appliedTs();
    if (applied > t) t = applied;
    if (t > this.last) this.last = t;
    return this.last;
  }

  /**
   * A new term's leader: raise the clock past every entry it will commit before its own. If the
   * core has compacted past the applied index (a received snapshot still being installed), the
   * scan is retried on the next call, once the snapshot's own high-water is in the store.
   */
  private lead(core: ClockCore): void {
    let lo = this.src.applied() + 1;
    try {
      for (;;) {
        const page = core.logEntries(lo, SCAN_BYTES);
        if (page.length === 0) break;
        const ts = maxEntryTs(page);
        if (ts > this.last) this.last = ts;
        lo = page[page.length - 1].index + 1;
      }
    } catch (err) {
      if (err instanceof CompactedError) return;
      throw err;
    }
    this.leaderTerm = core.term;
  }
}
