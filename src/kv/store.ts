/**
 * KvStore: the replicated state machine. `apply` is the only way state changes, and it depends
 * on nothing but the entries (time comes from entry.ts), so replicas that apply the same log
 * hold the same keys, values, expiries and versions. Everything else is either a read
 * (store-reads.ts, the class it extends: never deletes, treats expired keys as absent) or a
 * leader-side helper whose decisions are themselves proposed through the log (EXPIRE_IF, EVICT). The cluster-wide settings (CONFIG op,
 * settings.ts) are replicated state too: applied from the log and carried by snapshots. So is
 * the newest entry timestamp applied (`highTs`), the floor of the node's clock (entry-clock.ts),
 * the idempotency records of sessions.ts (an entry led by a SESSION op applies at most once),
 * and (issue 13) the slots the store owns and the splits it made (owned.ts, split.ts): an
 * entry naming a key of a slot it does not own applies nothing and answers `moved`.
 */
import type { Buffer } from 'node:buffer';
import { type ApplyContext, applyOp } from './apply.ts';
import { fromBinary, toBinary } from './bytes.ts';
import { RestoreInProgressError } from './errors.ts';
import { chooseVictims, type EvictionPolicy } from './eviction.ts';
import { lruOrder } from './lru.ts';
import type { KvEntry, KvOp, Rng, Victim } from './ops.ts';
import { ALL_SLOTS, firstUnownedSlot, type SlotRange, SlotSet } from './owned.ts';
import { mulberry32 } from './prng.ts';
import { ABORTED, type KvResult } from './results.ts';
import { Sessions } from './sessions.ts';
import type { ClusterSettings } from './settings.ts';
import { type SnapshotState, SnapshotWriter } from './snapshot.ts';
import { readSnapshot } from './snapshot-read.ts';
import { type SplitRecord, Splits, splitAlone } from './split.ts';
import { StoreReads } from './store-reads.ts';

export interface KvStoreOptions {
  /**
   * Bytes of accounted memory (see ITEM_OVERHEAD) above which writes need eviction; 0 = no
   * limit. Like `policy`, a default: a value set cluster-wide through the log overrides it.
   */
  maxmemory?: number;
  policy?: EvictionPolicy;
  /**
   * The slots a new group starts owning (issue 13), as every replica of it must: its share of
   * the initial layout. Default: all of 0..16383. A restored snapshot says what it owns.
   */
  slots?: readonly SlotRange[];
  /**
   * Keep key counts per slot from the start: what a group of a sharded node wants, so that a
   * split is O(slots) rather than a walk over every key inside its apply. Off (a single group),
   * creating or deleting a key costs no slot hash until a split or a count asks for them.
   */
  countSlots?: boolean;
}

/** A key due for active expiry, to be proposed as `{ type: 'expireIf', key, at: expiresAt }`. */
export interface ExpiredKey {
  key: Buffer;
  expiresAt: number;
}

export class KvStore extends StoreReads {
  private applied = 0;
  private restoring = false;
  private writer: SnapshotWriter | null = null;
  /** Replicated: set by CONFIG ops, carried by snapshots. */
  private cluster: ClusterSettings = {};
  /** Replicated: the largest entry.ts applied, carried by snapshots (see `highTs`). */
  private maxTs = 0;
  /** Replicated: the idempotency records (sessions.ts), carried by snapshots. */
  private sessions = new Sessions();
  /** Replicated: the splits this store made (split.ts), carried by snapshots. */
  private splitter = new Splits();
  private defaultMaxmemory: number;
  private defaultPolicy: EvictionPolicy;
  private readonly countSlots: boolean;

  constructor(options: KvStoreOptions = {}) {
    super();
    this.defaultMaxmemory = options.maxmemory ?? 0;
    this.defaultPolicy = options.policy ?? 'noeviction';
    this.countSlots = options.countSlots ?? false;
    if (this.countSlots) this.ks.countSlots();
    if (options.slots !== undefined) {
      const owned = new SlotSet(options.slots);
      this.ks.own(owned.full ? null : owned);
    }
  }

  /** The cluster-wide settings applied so far (only those ever set through the log). */
  get settings(): Readonly<ClusterSettings> {
    return this.cluster;
  }

  /** The effective maxmemory: the cluster-wide value once one is set, else the default (settable). */
  get maxmemory(): number {
    return this.cluster.maxmemory ?? this.defaultMaxmemory;
  }

  set maxmemory(n: number) {
    this.defaultMaxmemory = n;
  }

  /** The effective eviction policy, like `maxmemory`. */
  get policy(): EvictionPolicy {
    return this.cluster.maxmemoryPolicy ?? this.defaultPolicy;
  }

  set policy(p: EvictionPolicy) {
    this.defaultPolicy = p;
  }

  /**
   * The largest timestamp of any entry applied (or carried by the restored snapshot); 0 before
   * any. A node's clock never runs behind it, so nothing it stamps or reads goes back in time
   * past the log, even on a node just restored from a snapshot.
   */
  get highTs(): number {
    return this.maxTs;
  }

  /** Index of the last applied entry (or of the restored snapshot). */
  get appliedIndex(): number {
    return this.applied;
  }

  /**
   * Applies one committed entry at log `index`: one result per op, or a single `aborted`
   * result when a WATCHed key's version changed since the leader read it, or a single `moved`
   * when it names a key of a slot this store does not own (nothing applies).
   */
  apply(entry: KvEntry, index: number): KvResult[] {
    if (this.restoring) throw new RestoreInProgressError();
    this.applied = index;
    if (entry.ts > this.maxTs) this.maxTs = entry.ts;
    this.sessions.expire(entry.ts);
    const owned = this.ks.owned;
    if (owned !== null) {
      // Judged before anything applies (a SESSION record included), so a refused entry is a
      // no-op that the client retries where its slot map now points.
      const slot = firstUnownedSlot(entry, owned);
      if (slot >= 0) return [{ type: 'moved', slot }];
    }
    const first = entry.ops[0];
    if (first?.type === 'session') return this.sessions.apply(entry, first, index, (rest) => this.applyOps(entry, rest, index));
    if (first?.type === 'split' && splitAlone(entry)) return [this.splitter.apply(this.ks, first, index, this.state())];
    return this.applyOps(entry, entry.ops, index);
  }

  private applyOps(entry: KvEntry, ops: KvOp[], index: number): KvResult[] {
    const ks = this.ks;
    if (entry.watch) {
      for (const w of entry.watch) {
        if (ks.version(toBinary(w.key), entry.ts) !== w.version) return [ABORTED];
      }
    }
    const ctx: ApplyContext = { ks, ts: entry.ts, index, rng: mulberry32(index), settings: this.cluster };
    return ops.map((op) => applyOp(ctx, op));
  }

  /**
   * Issue 14: the keys (latin1) clients are blocked on, so that apply notes when it writes one
   * (`takeReadied`); null when none is. The leader's registry keeps it (resp/blocked-clients.ts);
   * it changes no state and no result, only what `takeReadied` reports.
   */
  watchBlocked(keys: ReadonlySet<string> | null): void {
    this.ks.blockedOn = keys;
  }

  /** Whether a blocked-on key was written since the last `takeReadied`. */
  get hasReadied(): boolean {
    return this.ks.readied.length > 0;
  }

  /** The blocked-on keys (latin1) written since the last call, in apply order, repeats included. */
  takeReadied(): string[] {
    const keys = this.ks.readied;
    if (keys.length > 0) this.ks.readied = [];
    return keys;
  }

  /** The slots owned (canonical ranges). */
  get ownedSlots(): readonly SlotRange[] {
    return this.ks.owned?.ranges ?? ALL_SLOTS;
  }

  /** Whether the store serves `slot`: the front end answers MOVED / TRYAGAIN for one it does not. */
  ownsSlot(slot: number): boolean {
    return this.ks.owned === null || this.ks.owned.has(slot);
  }

  ownsKey(key: Uint8Array): boolean {
    return this.ks.owned === null || this.ks.owned.hasKey(toBinary(key));
  }

  /**
   * CLUSTER COUNTKEYSINSLOT: keys held in an owned slot (expired ones until deleted), else 0.
   * The first call on a store made without `countSlots` counts every key once.
   */
  countKeysInSlot(slot: number): number {
    return this.ownsSlot(slot) ? this.ks.keysInSlot(slot) : 0;
  }

  /**
   * What is left of the cleanup after a split, in seqs to walk (replicated: the same on every
   * replica at an index): while > 0, the leader proposes `{ type: 'dropUnowned', limit }`
   * entries, one in flight, each walking `limit` seqs (split.ts).
   */
  get cleanupPending(): number {
    return this.ks.dropPending;
  }

  /** Keys given up in a split and not yet deleted here (local: a restored replica holds none). */
  get unownedKeys(): number {
    return this.ks.unowned;
  }

  /** The splits this store made, oldest first (replicated, carried by snapshots). */
  get splits(): readonly SplitRecord[] {
    return this.splitter.made;
  }

  /**
   * The image of the group split off as `group`, begun at its split entry; handed out once
   * (undefined after, or if no split to it was applied here). Iterate it into the new group's
   * `KvStore.restore`; cancel it if that group already exists (a split replayed at a restart).
   */
  takeSplitImage(group: number): SnapshotWriter | undefined {
    return this.splitter.take(group);
  }

  /** Accounted bytes (given-up keys included until dropped): Σ key + value length + ITEM_OVERHEAD. */
  usedMemory(): number {
    return this.ks.usedBytes;
  }

  /** Idempotency records held and their accounted bytes (sessions.ts; not part of usedMemory). */
  sessionStats(): { records: number; bytes: number } {
    return { records: this.sessions.size, bytes: this.sessions.usedBytes };
  }

  /** True when a maxmemory is set and exceeded: evict first, or answer ERR.oom for writes. */
  overMaxmemory(): boolean {
    return this.maxmemory > 0 && this.ks.usedBytes > this.maxmemory;
  }

  /** Bytes to evict to get back to maxmemory (0 when within it). */
  bytesOverMaxmemory(): number {
    return this.overMaxmemory() ? this.ks.usedBytes - this.maxmemory : 0;
  }

  /**
   * Leader only: victims to propose in an EVICT_IF op, in policy order, enough to free
   * `bytesToFree` (or fewer when the policy has no more candidates; [] under noeviction). Each
   * carries the key's version now, so apply spares a key written before the op commits. The
   * same keys come back until that op is applied, so keep one in flight at a time.
   */
  evictionCandidates(bytesToFree: number, policy: EvictionPolicy, rng: Rng, maxKeys = 1024): Victim[] {
    return chooseVictims(this.ks, bytesToFree, policy, rng, maxKeys).map((item) => ({ key: fromBinary(item.key), version: item.version }));
  }

  /**
   * Leader only: up to `limit` keys whose expiry is <= nowMs, each to be proposed as an
   * EXPIRE_IF op with `at: expiresAt`. Until those are applied the same keys come back.
   */
  expiredSample(nowMs: number, limit: number): ExpiredKey[] {
    return this.ks.heap.expired(nowMs, limit).map((item) => ({ key: fromBinary(item.key), expiresAt: item.expiresAt }));
  }

  /** The earliest expiry in the keyspace, to schedule the next active-expiry pass. */
  nextExpiry(): number | undefined {
    return this.ks.heap.peek()?.expiresAt;
  }

  /**
   * Keys from least to most recently used (binary strings), given-up ones left out: the
   * leader's LRU order, which a backup carries (node/backup.ts). Walked in slices (lru.ts).
   */
  lruOrder(): Promise<string[]> {
    return lruOrder(this.ks);
  }

  /**
   * Starts a snapshot of the state as of now (appliedIndex); applies may continue while it is
   * iterated. A running snapshot of this store is cancelled first. `reuseChunks`: see
   * SnapshotWriter (for a consumer that copies every chunk before asking for the next).
   * With `slots` (owned ones; RangeError otherwise), an image of those slots alone, which owns
   * just them once restored: it neither cancels the store's own snapshot nor is cancelled by it.
   */
  beginSnapshot(chunkBytes?: number, reuseChunks = false, slots?: readonly SlotRange[]): SnapshotWriter {
    if (slots !== undefined) {
      const set = new SlotSet(slots);
      for (const [start, end] of set.ranges) {
        for (let s = start; s <= end; s++) if (!this.ownsSlot(s)) throw new RangeError(`slot ${s} is not owned`);
      }
      return new SnapshotWriter(this.ks, this.applied, chunkBytes, reuseChunks, { ...this.state(), slots: set, splits: [] });
    }
    this.writer?.cancel();
    this.writer = new SnapshotWriter(this.ks, this.applied, chunkBytes, reuseChunks, {
      ...this.state(),
      slots: this.ks.owned,
      splits: this.splitter.made,
      cleanup: [this.ks.dropAfter, this.ks.dropEnd],
    });
    return this.writer;
  }

  /** The replicated state a snapshot carries besides the keys. */
  private state(): SnapshotState {
    return { settings: this.cluster, highTs: this.maxTs, sessions: this.sessions.records() };
  }

  /**
   * Replaces the whole state with a snapshot, read in slices. The old state stays readable
   * until the new one is complete; apply throws RestoreInProgressError meanwhile. Resolves to
   * the snapshot's index; rejects with SnapshotFormatError, leaving the old state, on bad input.
   */
  async restore(source: AsyncIterable<Uint8Array> | Uint8Array): Promise<number> {
    if (this.restoring) throw new RestoreInProgressError();
    this.restoring = true;
    try {
      const { ks, index, settings, highTs, sessions, splits } = await readSnapshot(source, this.countSlots);
      // A running snapshot (a split's image too) keeps reading the old keyspace, which no
      // longer changes.
      // Whoever was blocked may now find what it waits for: a restore writes every key.
      ks.blockedOn = this.ks.blockedOn;
      if (ks.blockedOn !== null) for (const k of ks.blockedOn) ks.readied.push(k);
      this.ks = ks;
      this.applied = index;
      this.cluster = settings;
      this.maxTs = highTs;
      this.sessions = sessions;
      this.splitter.made = splits;
      return index;
    } finally {
      this.restoring = false;
    }
  }
}
