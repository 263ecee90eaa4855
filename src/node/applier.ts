/**
 * What a committed entry does once the Ready loop hands it over: a KV entry goes to the state
 * machine (KvStore) and its results to the caller waiting on its index; a conf change goes to
 * the node, whose business membership is; an empty entry (a new leader's no-op) only moves the
 * applied index. The entry clock (entry-clock.ts), which stamps new entries and judges expiry
 * on reads, lives here too: it rises with what is applied.
 *
 * The host interface is narrow so that the simulator (test/sim) builds its nodes on this same
 * code, with the simulated clock as the wall clock.
 */
import { decodeEntry, type KvEntry, type KvResult, type KvStore } from '../kv/index.ts';
import { type Entry, EntryType } from '../raft/types.ts';
import { type ClockCore, EntryClock } from './entry-clock.ts';
import type { ProposalWaiters } from './waiters.ts';

export interface ApplierHost {
  readonly kv: KvStore;
  readonly proposals: ProposalWaiters;
  /** The wall clock entries are stamped from (Date.now in the node). */
  wall(): number;
  /** The consensus core, read by the clock once per term. */
  core(): ClockCore;
  /** A conf change entry: the host applies it to the core and its members, and settles its waiter. */
  applyConfChange(e: Entry): void;
  /** A KV entry was applied: what its results mean outside the state machine (metrics, publish, settings). */
  kvApplied(index: number, entry: KvEntry, results: KvResult[]): void;
  /** An entry that cannot be applied (written by another version, or by hand) became a no-op. */
  unusable(index: number, err: unknown): void;
}

export class Applier {
  /** The last applied log index (a restored snapshot's index included). */
  applied = 0;
  private readonly clock: EntryClock;

  constructor(private readonly host: ApplierHost) {
    this.clock = new EntryClock({
      wall: () => host.wall(),
      appliedTs: () => host.kv.highTs,
      applied: () => this.applied,
      core: () => host.core(),
    });
  }

  /**
   * The clock entries are stamped with and reads judge expiry by: never behind a timestamp
   * already in the log (entry-clock.ts).
   */
  now(): number {
    return this.clock.now();
  }

  /**
   * Apply is total: an entry this version cannot use is applied as a no-op for the unusable
   * part, the same way on every replica, so that `applied` moves on and no replica stops. Only
   * storage failures stop the node.
   */
  applyEntry(e: Entry): void {
    if (e.type === EntryType.ConfChange) {
      this.host.applyConfChange(e);
    } else if (e.data.length > 0) {
      this.applyKvEntry(e);
    } else {
      this.host.proposals.applied(e.index, e.term, []);
    }
    this.applied = e.index;
  }

  private applyKvEntry(e: Entry): void {
    let entry: KvEntry;
    let results: KvResult[];
    try {
      entry = decodeEntry(e.data);
      results = this.host.kv.apply(entry, e.index);
    } catch (err) {
      this.host.unusable(e.index, err);
      this.host.proposals.unusable(e.index, `entry ${e.index} could not be applied`);
      return;
    }
    this.host.kvApplied(e.index, entry, results);
    this.host.proposals.applied(e.index, e.term, results);
  }
}
