/**
 * KvStore: the replicated state machine. `apply` is the only way state changes, and it depends
 * on nothing but the entries (time comes from entry.ts), so replicas that apply the same log
 * hold the same keys, values, expiries and versions. Everything else here is either a read
 * (never deletes, treats expired keys as absent) or a leader-side helper whose decisions are
 * themselves proposed through the log (EXPIRE_IF, EVICT). The cluster-wide settings (CONFIG op,
 * settings.ts) are replicated state too: applied from the log and carried by snapshots. So is
 * the newest entry timestamp applied (`highTs`), the floor of the node's clock (entry-clock.ts),
 * and the idempotency records of sessions.ts (an entry led by a SESSION op applies at most once).
 */
import type { Buffer } from 'node:buffer';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { applyOp, type ApplyContext } from './apply.ts';
import { fromBinary, toBinary } from './bytes.ts';
import { RestoreInProgressError } from './errors.ts';
import { chooseVictims, type EvictionPolicy } from './eviction.ts';
import { Keyspace } from './keyspace.ts';
import type { KvEntry, KvOp, OpOf, Rng, TimeUnit, Victim } from './ops.ts';
import { mulberry32 } from './prng.ts';
import { expireTimeOf, findLive, liveCount, matchingKeys, randomKeyOf, scanKeys, ttlOf } from './reads.ts';
import { ABORTED, error, type KvResult } from './results.ts';
import { decodeResults, newRecord, SESSION_ERR, Sessions, sessionProblem, sessionResult } from './sessions.ts';
import type { ClusterSettings } from './settings.ts';
import { SnapshotWriter } from './snapshot.ts';
import { readSnapshot } from './snapshot-read.ts';

/** Keys walked between two yields to the event loop (lruOrder). */
const LRU_SLICE = 16 * 1024;

export interface KvStoreOptions {
  /**
   * Bytes of accounted memory (see ITEM_OVERHEAD) above which writes need eviction; 0 = no
   * limit. Like `policy`, a default: a value set cluster-wide through the log overrides it.
   */
  maxmemory?: number;
  policy?: EvictionPolicy;
}

export interface ReadOptions {
  /** Mark the key most recently used (what Redis does for GET, not for TTL or EXISTS). */
  touch?: boolean;
}

export interface ScanOptions {
  /** Redis glob (see KEYS). */
  match?: Uint8Array;
  /** Keys to examine, default 10 as in Redis. */
  count?: number;
}

/** A key due for active expiry, to be proposed as `{ type: 'expireIf', key, at: expiresAt }`. */
export interface ExpiredKey {
  key: Buffer;
  expiresAt: number;
}

export class KvStore {
  private ks = new Keyspace();
  private applied = 0;
  private restoring = false;
  private writer: SnapshotWriter | null = null;
  /** Replicated: set by CONFIG ops, carried by snapshots. */
  private cluster: ClusterSettings = {};
  /** Replicated: the largest entry.ts applied, carried by snapshots (see `highTs`). */
  private maxTs = 0;
  /** Replicated: the idempotency records (sessions.ts), carried by snapshots. */
  private sessions = new Sessions();
  private defaultMaxmemory: number;
  private defaultPolicy: EvictionPolicy;

  constructor(options: KvStoreOptions = {}) {
    this.defaultMaxmemory = options.maxmemory ?? 0;
    this.defaultPolicy = options.policy ?? 'noeviction';
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
   * result when a WATCHed key's version changed since the leader read it.
   */
  apply(entry: KvEntry, index: number): KvResult[] {
    if (this.restoring) throw new RestoreInProgressError();
    this.applied = index;
    if (entry.ts > this.maxTs) this.maxTs = entry.ts;
    this.sessions.expire(entry.ts);
    const first = entry.ops[0];
    if (first?.type === 'session') return this.applySession(entry, first, index);
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
   * An idempotent write (sessions.ts): the rest of the entry applies only if no live record
   * holds the key. Results: the SESSION op's (sessionResult) then one per further op; or a
   * single error when the key was used for another request, or the op is unusable (nothing
   * applies, so a malformed record in the log is a no-op).
   */
  private applySession(entry: KvEntry, op: OpOf<'session'>, index: number): KvResult[] {
    if (sessionProblem(op) !== undefined) return [error(SESSION_ERR.malformed)];
    const found = this.sessions.find(toBinary(op.key), entry.ts);
    if (found !== undefined) {
      if (found.fingerprint !== toBinary(op.fingerprint)) return [error(SESSION_ERR.conflict)];
      let results: KvResult[];
      try {
        results = decodeResults(found.results);
      } catch {
        // Only a corrupt record gets here (restore checks them): answer, never throw in apply.
        results = [error(SESSION_ERR.malformed)];
      }
      return [sessionResult(true, found.index), ...results];
    }
    const results = this.applyOps(entry, entry.ops.slice(1), index);
    this.sessions.add(newRecord(op, entry.ts, index, results));
    return [sessionResult(false, index), ...results];
  }

  /** WATCH: the key's version at `nowMs`, to put in the EXEC entry's `watch` list. */
  version(key: Uint8Array, nowMs: number): number {
    return this.ks.version(toBinary(key), nowMs);
  }

  get(key: Uint8Array, nowMs: number, opts?: ReadOptions): Buffer | null {
    const item = findLive(this.ks, toBinary(key), nowMs);
    if (item === undefined) return null;
    if (opts?.touch) this.ks.lru.touch(item);
    return fromBinary(item.value);
  }

  /**
   * GET without the copy: the value as the store holds it, a binary string (one char per
   * byte). Strings are immutable, so a reply may keep it until it is written.
   */
  getBinary(key: Uint8Array, nowMs: number, opts?: ReadOptions): string | null {
    const item = findLive(this.ks, toBinary(key), nowMs);
    if (item === undefined) return null;
    if (opts?.touch) this.ks.lru.touch(item);
    return item.value;
  }

  exists(key: Uint8Array, nowMs: number): boolean {
    return findLive(this.ks, toBinary(key), nowMs) !== undefined;
  }

  strlen(key: Uint8Array, nowMs: number, opts?: ReadOptions): number {
    const item = findLive(this.ks, toBinary(key), nowMs);
    if (item && opts?.touch) this.ks.lru.touch(item);
    return item?.value.length ?? 0;
  }

  type(key: Uint8Array, nowMs: number): 'string' | 'none' {
    return this.exists(key, nowMs) ? 'string' : 'none';
  }

  /** PTTL (unit 'ms', the default) or TTL ('s', rounded like Redis): -2 missing, -1 no expiry. */
  ttl(key: Uint8Array, nowMs: number, unit: TimeUnit = 'ms'): number {
    return ttlOf(findLive(this.ks, toBinary(key), nowMs), nowMs, unit);
  }

  /** PEXPIRETIME ('ms', the default) or EXPIRETIME ('s'): -2 missing, -1 no expiry. */
  expireTime(key: Uint8Array, nowMs: number, unit: TimeUnit = 'ms'): number {
    return expireTimeOf(findLive(this.ks, toBinary(key), nowMs), unit);
  }

  keys(pattern: Uint8Array, nowMs: number): Buffer[] {
    return matchingKeys(this.ks, toBinary(pattern), nowMs).map(fromBinary);
  }

  /** One SCAN step; pass the returned cursor back, 0 means done. See reads.ts for guarantees. */
  scan(cursor: number, opts: ScanOptions, nowMs: number): { cursor: number; keys: Buffer[] } {
    const match = opts.match && toBinary(opts.match);
    const page = scanKeys(this.ks, cursor, opts.count ?? 10, match, nowMs);
    return { cursor: page.cursor, keys: page.keys.map(fromBinary) };
  }

  randomKey(rng: Rng, nowMs: number): Buffer | null {
    const key = randomKeyOf(this.ks, rng, nowMs);
    return key === undefined ? null : fromBinary(key);
  }

  /** Keys held, logically expired ones included until their logged delete is applied. */
  get size(): number {
    return this.ks.size;
  }

  /** Keys that carry an expiry (INFO keyspace `expires=`), expired ones included until deleted. */
  get volatileCount(): number {
    return this.ks.heap.size;
  }

  /** Keys not expired at `nowMs`. */
  dbsize(nowMs: number): number {
    return liveCount(this.ks, nowMs);
  }

  /** Accounted bytes: Σ key length + value length + ITEM_OVERHEAD. */
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
   * Keys from least to most recently used (binary strings): the leader's LRU order, which a
   * backup carries (node/backup.ts) so that a cluster restored from it evicts what this one
   * would have. Walked in slices with a turn of the event loop between them: pointer chasing
   * through 500k keys held the loop for 45-60 ms of CPU in one piece, 6-7 ms per slice now
   * (test/kv/lru-order.test.ts), and heartbeats must flow. Exact when no
   * key is read or deleted meanwhile; otherwise a key read during the walk may be listed twice
   * (its later place wins on restore), and if the key to resume at was deleted the walk ends
   * there (the rest stay least recent after a restore).
   */
  async lruOrder(): Promise<string[]> {
    const out: string[] = [];
    // A bound: reads that keep moving keys to the tail could otherwise keep the walk going.
    const limit = 2 * this.ks.size;
    let item = this.ks.lru.head;
    while (item !== null && out.length < limit) {
      for (let n = 0; item !== null && n < LRU_SLICE && out.length < limit; n++) {
        out.push(item.key);
        item = item.next;
      }
      if (item === null) break;
      await yieldToEventLoop();
      if (!item.live) break;
    }
    return out;
  }

  /**
   * Starts a snapshot of the state as of now (appliedIndex); applies may continue while it is
   * iterated. A running snapshot of this store is cancelled first. `reuseChunks`: see
   * SnapshotWriter (for a consumer that copies every chunk before asking for the next).
   */
  beginSnapshot(chunkBytes?: number, reuseChunks = false): SnapshotWriter {
    this.writer?.cancel();
    this.writer = new SnapshotWriter(this.ks, this.applied, chunkBytes, reuseChunks, this.cluster, this.maxTs, this.sessions.records());
    return this.writer;
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
      const { ks, index, settings, highTs, sessions } = await readSnapshot(source);
      // A running snapshot keeps reading the old keyspace, which no longer changes.
      this.ks = ks;
      this.applied = index;
      this.cluster = settings;
      this.maxTs = highTs;
      this.sessions = sessions;
      return index;
    } finally {
      this.restoring = false;
    }
  }
}
