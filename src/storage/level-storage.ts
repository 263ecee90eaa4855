/**
 * One Raft group's durable log: LevelDB underneath, etcd MemoryStorage semantics on top. It is a
 * view of the node's one LevelDB (engine.ts), which holds every group's records under the
 * group's key prefix (keys.ts) and writes all groups' changes of one turn in one batch.
 *
 * The core reads synchronously, so the retained log's terms, the data of its unapplied tail and
 * the latest snapshot's metadata live in memory (memory-log.ts) and every change is written
 * through to LevelDB (records.ts for the layout). Applied entries past a bounded tail leave
 * memory (trim) and are read back for a trailing follower (log-readback.ts). The snapshot's
 * data is read back only when needed, and a local snapshot is streamed to disk without ever
 * being whole in memory (group-snapshots.ts). A change is visible to readers as soon as its call
 * returns and durable when its promise resolves: writes of one event-loop turn share one fsynced
 * batch (write-queue.ts). The runtime must not acknowledge anything before that promise resolves.
 *
 * Snapshots, and how writing one stays crash safe, are group-snapshots.ts's.
 */
import type { Storage } from '../raft/storage.ts';
import { type ConfState, EntriesNotLoadedError, type Entry, type HardState, type Snapshot, type SnapshotMeta } from '../raft/types.ts';
import { openSingleGroup } from './engine.ts';
import { InvalidWriteError, StorageClosedError } from './errors.ts';
import { GroupSnapshots } from './group-snapshots.ts';
import type { KeySpace } from './keys.ts';
import { ReadBack } from './log-readback.ts';
import { MemoryLog, type SaveRequest } from './memory-log.ts';
import type { SnapshotInfo, StorageLogger, StorageStats } from './options.ts';
import { DEFAULT_CHUNK_SIZE, DEFAULT_SNAPSHOT_LINGER_MS, type GroupHost, type LevelStorageOptions, silent } from './options.ts';
import { clusterIdProblem, encodeClusterId, encodeCompacted, encodeEntry, encodeHardState, type StoredSnapMeta } from './records.ts';
import type { LevelDb, Recovered, Where } from './recover.ts';
import type { WriteOp, WriteOwner, WriteQueue } from './write-queue.ts';

/** How much more than the tail a trailing follower may hold in memory (trim). */
const FOLLOWER_HOLD = 4;

export class LevelStorage implements Storage {
  /** Called after every batch with this group's writes, with its duration in ms (fsync histogram). */
  onFsync: ((ms: number) => void) | undefined;

  readonly dir: string;
  readonly group: number;
  private readonly db: LevelDb;
  private readonly queue: WriteQueue;
  private readonly ks: KeySpace;
  private readonly where: Where;
  /** Names this group in log lines. */
  private readonly name: string;
  /** Told of every batch holding this group's writes. */
  private readonly owner: WriteOwner;
  private readonly log: MemoryLog;
  private readonly logger: StorageLogger;
  private readonly snaps: GroupSnapshots;
  private closed = false;
  private lastFsyncMs = 0;
  private batches = 0;
  private storedClusterId: string | undefined;
  /** Every entry up to here is durable (in LevelDB): only those may leave memory. */
  private durableTo: number;
  /** Reads entries out of memory back from disk (log-readback.ts). */
  private readonly readBack: ReadBack;

  /**
   * Built by the engine (engine.ts) from a group's verified records; the log's in-memory image
   * starts from them. Use StorageEngine.open and engine.group(id), or LevelStorage.open.
   */
  constructor(
    private readonly host: GroupHost,
    ks: KeySpace,
    rec: Recovered,
    opts: LevelStorageOptions,
  ) {
    this.dir = host.dir;
    this.group = ks.group;
    this.db = host.db;
    this.queue = host.queue;
    this.ks = ks;
    this.where = { dir: host.dir, ks };
    this.name = `${host.dir} (group ${ks.group})`;
    this.log = new MemoryLog(rec.state);
    this.durableTo = this.log.lastIndex();
    this.readBack = new ReadBack(this.db, this.where, this.log, (msg) => {
      if (!this.closed) this.logger.error(`${this.name}: ${msg}`);
    });
    this.storedClusterId = rec.clusterId;
    this.logger = opts.logger ?? silent;
    this.owner = {
      written: (ms) => {
        this.lastFsyncMs = ms;
        this.batches++;
        this.onFsync?.(ms);
      },
    };
    const snapsHost = {
      db: this.db,
      queue: this.queue,
      where: this.where,
      owner: this.owner,
      log: this.log,
      logger: this.logger,
      name: this.name,
      closed: () => this.closed,
      assertWritable: () => this.assertWritable(),
    };
    const lingerMs = opts.snapshotLingerMs ?? DEFAULT_SNAPSHOT_LINGER_MS;
    this.snaps = new GroupSnapshots(snapsHost, rec.snapStored, lingerMs, opts.chunkSize ?? DEFAULT_CHUNK_SIZE);
    // Read (and verified) anyway: the runtime restores its state machine from it right away.
    if (rec.snapStored) this.snaps.keep({ meta: rec.state.snapshot, data: rec.snapData });
  }

  /**
   * Opens (or creates) the log in `dir` and verifies all of it: the engine (engine.ts) with group
   * 1, today's single group, which it creates in an empty directory. Closing it closes the
   * engine. Throws CorruptDataError if any of group 1's records is damaged or missing,
   * StorageLockedError if another process has the directory open.
   */
  static open(dir: string, opts: LevelStorageOptions = {}): Promise<LevelStorage> {
    return openSingleGroup(dir, opts);
  }

  // ---- Storage (synchronous reads for the core) ----

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.log.hardState(), confState: this.log.snapshotMeta().conf };
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    try {
      return this.log.entries(lo, hi, maxBytes);
    } catch (err) {
      if (err instanceof EntriesNotLoadedError && !this.closed) this.readBack.start(err.index, err.memoryFirst);
      throw err;
    }
  }

  /** Sizes (entrySize) of the retained entries in [lo, hi), in memory or not. */
  entrySizes(lo: number, hi: number): number[] {
    const out: number[] = [];
    for (let i = lo; i < hi; i++) out.push(this.log.sizeAt(i));
    return out;
  }

  /**
   * Moves applied entries out of memory beyond a tail of `keepEntries` entries and `keepBytes`
   * bytes (memory-log.ts trim); none that is not durable yet, nor (on a leader) one from
   * `neededFrom` on, which a follower still lacks, while the log in memory stays within
   * FOLLOWER_HOLD times `keepBytes`: a follower further behind is served from disk.
   * Called as the applied index moves.
   */
  trim(applied: number, neededFrom: number | undefined, keepEntries: number, keepBytes: number): void {
    let bound = Math.min(applied, this.durableTo);
    if (neededFrom !== undefined && this.log.memoryBytes() <= FOLLOWER_HOLD * keepBytes) bound = Math.min(bound, neededFrom - 1);
    this.log.trim(bound, keepEntries, keepBytes);
  }

  term(i: number): number {
    return this.log.term(i);
  }

  firstIndex(): number {
    return this.log.firstIndex();
  }

  lastIndex(): number {
    return this.log.lastIndex();
  }

  /**
   * The latest snapshot, if its data is in memory; otherwise starts reading it from disk and
   * throws SnapshotTemporarilyUnavailableError (the core retries on a later heartbeat). The data
   * is shared, not copied, so callers must not modify it.
   */
  snapshot(): Snapshot {
    return this.snaps.snapshot();
  }

  /** The latest snapshot's metadata; never touches the data. */
  snapshotMeta(): SnapshotMeta {
    return this.log.snapshotMeta();
  }

  /**
   * The latest snapshot with its data, read from disk (and verified) unless it is in memory, e.g.
   * to restore the state machine at start-up. Rejects with CorruptDataError on a damaged chunk.
   */
  loadSnapshot(): Promise<Snapshot> {
    return this.snaps.load();
  }

  /**
   * The latest snapshot's data as a stream of checked chunks, never whole in memory (a backup,
   * node/backup.ts); undefined while there is none but the implicit empty one. Once this
   * resolves, the stream reads from a LevelDB snapshot of that moment: a newer Raft snapshot
   * replacing this one meanwhile does not cut it short. Stop iterating early only with return().
   */
  streamSnapshot(): Promise<{ meta: SnapshotMeta; bytes: number; chunks: AsyncIterable<Uint8Array> } | undefined> {
    return this.snaps.stream();
  }

  // ---- cluster identity ----

  /** The id of the cluster this log belongs to, if one was stored (see node/cluster-id.ts). */
  clusterId(): string | undefined {
    return this.storedClusterId;
  }

  /**
   * Records which cluster this log belongs to: visible at once, durable when the promise
   * resolves, and ordered with the log's writes (a save queued after it is not durable before
   * it). The id is written once: storing the same id again is a no-op, a different one is an
   * InvalidWriteError, since a log that changed clusters would mix two clusters' entries.
   */
  setClusterId(id: string): Promise<void> {
    try {
      this.assertWritable();
      const problem = clusterIdProblem(id);
      if (problem) throw new InvalidWriteError(`${problem}, got ${JSON.stringify(id)}`);
      if (this.storedClusterId === id) return Promise.resolve();
      if (this.storedClusterId !== undefined) {
        throw new InvalidWriteError(`this log belongs to cluster ${this.storedClusterId}; it cannot be moved to cluster ${id}`);
      }
      this.storedClusterId = id;
      return this.queue.push([{ type: 'put', key: this.ks.fixed('clusterId'), value: encodeClusterId(id, this.ks) }], true, this.owner);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  // ---- writes ----

  /**
   * Persists one Ready's durable parts: a received snapshot (replacing the log up to its index,
   * or all of it if the log conflicts), entries (truncating any conflicting suffix, as etcd's
   * MemoryStorage.Append) and the hard state, atomically. Visible to reads at once; resolves
   * when durable. Entry objects are kept, not copied. `sync` false (the core's Ready.mustSync:
   * only the commit index moved) writes in order but without waiting for an fsync of its own.
   */
  save(req: SaveRequest, sync = true): Promise<void> {
    try {
      this.assertWritable();
      const plan = this.log.planSave(req);
      const ops: WriteOp[] = [];
      let stored: StoredSnapMeta | undefined;
      if (plan.snapshot) {
        // Its chunks go as batches of their own; only this save's batch makes it current.
        const received = this.snaps.receive(plan.snapshot);
        ops.push(...received.ops, { type: 'put', key: this.ks.fixed('compacted'), value: encodeCompacted(plan.start!, this.ks) });
        stored = received.stored;
      }
      const ks = this.ks;
      for (const [from, to] of plan.deleted) for (let i = from; i <= to; i++) ops.push({ type: 'del', key: ks.entry(i) });
      for (const e of plan.appended) ops.push({ type: 'put', key: ks.entry(e.index), value: encodeEntry(e, ks) });
      if (plan.hardState) ops.push({ type: 'put', key: ks.fixed('hardState'), value: encodeHardState(plan.hardState, ks) });
      this.log.applySave(plan);
      const done = this.queue.push(ops, sync, this.owner);
      // What replaces entries (a truncation, a snapshot) is not durable yet.
      const from = plan.appended[0]?.index ?? (plan.snapshot && !plan.retain ? plan.start!.index + 1 : Number.POSITIVE_INFINITY);
      if (from <= this.durableTo) this.durableTo = from - 1;
      if (plan.appended.length > 0) {
        const last = plan.appended[plan.appended.length - 1].index;
        // Writes complete in order, and entries at or below the applied index are never
        // overwritten, so trim's bound min(applied, durableTo) names only durable entries.
        done.then(
          () => {
            if (last > this.durableTo) this.durableTo = last;
          },
          () => {},
        );
      }
      if (stored) this.snaps.switched(stored, done);
      return done;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Records the state machine's image at `index` (applied, so committed) as the latest
   * snapshot. The data may come as a stream of chunks, which are re-cut to the stored chunk size
   * and written as they arrive, one batch each (saves queued meanwhile wait for at most one
   * chunk), so the whole image is never in memory; each chunk is copied before the next one is
   * requested, so the source may refill one buffer. The snapshot becomes current, in memory and
   * on disk, only once all chunks are durable. The log is not touched: see compact().
   */
  createSnapshot(index: number, conf: ConfState, data: Uint8Array | AsyncIterable<Uint8Array>): Promise<SnapshotInfo> {
    return this.snaps.create(index, conf, data);
  }

  /**
   * Deletes the entries up to and including `index`, which must not pass the snapshot.
   * Throws CompactedError if they are already gone (as MemoryStorage.Compact).
   */
  compact(index: number): Promise<void> {
    try {
      this.assertWritable();
      const plan = this.log.planCompact(index);
      const ops: WriteOp[] = [{ type: 'put', key: this.ks.fixed('compacted'), value: encodeCompacted(plan.start, this.ks) }];
      for (let i = plan.deleted[0]; i <= plan.deleted[1]; i++) ops.push({ type: 'del', key: this.ks.entry(i) });
      this.log.applyCompact(plan);
      return this.queue.push(ops, true, this.owner);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  stats(): StorageStats {
    return {
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      entries: this.log.count(),
      bytes: this.log.bytes(),
      snapshotIndex: this.log.snapshotMeta().index,
      memory: this.log.memoryStats(),
      lastFsyncMs: this.lastFsyncMs,
      batches: this.batches,
    };
  }

  /**
   * Waits for queued writes and stops a snapshot being written (its chunks are removed at the
   * next open); then the engine forgets this group's view, or closes LevelDB if this view is all
   * it serves (LevelStorage.open). Later writes fail with StorageClosedError.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.snaps.close();
    await this.queue.drain().catch(() => {});
    await this.host.release(this);
  }

  private assertWritable(): void {
    if (this.closed) throw new StorageClosedError(this.dir, this.group);
    const failure = this.queue.failedWith();
    if (failure) throw failure;
  }
}
