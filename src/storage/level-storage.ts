/**
 * The durable Raft log: LevelDB underneath, etcd MemoryStorage semantics on top.
 *
 * The core reads synchronously, so the retained log (bounded by compaction) and the latest
 * snapshot's metadata live in memory (memory-log.ts) and every change is written through to
 * LevelDB (records.ts for the layout). The snapshot's data is read back only when needed
 * (snapshot-cache.ts), and a local snapshot is streamed to disk without ever being whole in
 * memory. A change is visible to readers as soon as its call returns and
 * durable when its promise resolves: writes of one event-loop turn share one fsynced batch
 * (write-queue.ts). The runtime must not acknowledge anything before that promise resolves.
 *
 * Crash safety rests on LevelDB batches being atomic and on a snapshot's chunks being keyed by
 * its index: chunks are written first, under keys nothing points at yet, and one batch then
 * switches the metadata to them and deletes the previous snapshot's chunks. A crash at any point
 * leaves either the old snapshot or the new one, plus orphan chunks that the next open removes.
 */
import { Level } from 'level';
import type { Storage } from '../raft/storage.ts';
import {
  type ConfState,
  type Entry,
  type HardState,
  type Snapshot,
  type SnapshotMeta,
  SnapshotTemporarilyUnavailableError,
} from '../raft/types.ts';
import {
  CorruptDataError,
  InvalidWriteError,
  StorageClosedError,
  StorageFailedError,
  StorageLockedError,
} from './errors.ts';
import { checkConf, MemoryLog, type SaveRequest } from './memory-log.ts';
import {
  isLevelCorruption,
  type LevelDb,
  levelDbCorruptionReport,
  type Recovered,
  readSnapshotData,
  recover,
  snapshotChunks,
} from './recover.ts';
import {
  chunkKey,
  chunkRange,
  clusterIdProblem,
  encodeClusterId,
  encodeCompacted,
  encodeEntry,
  encodeFormat,
  encodeHardState,
  encodeQuarantine,
  encodeSnapMeta,
  entryKey,
  fixedKey,
  type StoredSnapMeta,
} from './records.ts';
import { SnapshotCache } from './snapshot-cache.ts';
import { chunkPut, layOut, writeChunks } from './snapshot-chunks.ts';
import { type WriteOp, WriteQueue } from './write-queue.ts';

/** Satisfied by a pino logger. */
export interface StorageLogger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export interface LevelStorageOptions {
  logger?: StorageLogger;
  /** fsync every batch (default true). Turn off only where durability is not under test. */
  syncWrites?: boolean;
  /** Size of one stored piece of snapshot data, in bytes (default 1 MiB). */
  chunkSize?: number;
  /** How long snapshot data read back from disk stays in memory after its last use (default 30 s). */
  snapshotLingerMs?: number;
}

/** What createSnapshot recorded. */
export interface SnapshotInfo {
  meta: SnapshotMeta;
  /** Size of the data. */
  bytes: number;
}

export interface StorageStats {
  firstIndex: number;
  lastIndex: number;
  /** Retained entries, and their size as the core measures it (16 bytes + data each). */
  entries: number;
  bytes: number;
  snapshotIndex: number;
  /** Duration of the most recent batch write (fsync included), in milliseconds. */
  lastFsyncMs: number;
  /** LevelDB batches written since open. */
  batches: number;
}

const DEFAULT_CHUNK_SIZE = 1 << 20;
const DEFAULT_SNAPSHOT_LINGER_MS = 30_000;
const silent: StorageLogger = { info() {}, warn() {}, error() {} };

export class LevelStorage implements Storage {
  /** Called after every batch with its duration in ms, for the fsync latency histogram. */
  onFsync: ((ms: number) => void) | undefined;

  private readonly queue: WriteQueue;
  private readonly logger: StorageLogger;
  private readonly chunkSize: number;
  /** Where the current snapshot's data is on disk; undefined for the implicit empty snapshot. */
  private stored: StoredSnapMeta | undefined;
  private readonly cache: SnapshotCache;
  /** Settles when the current snapshot's switch batch is durable: its chunks can be read back. */
  private storedDurable: Promise<void> = Promise.resolve();
  /** createSnapshot calls run one after another. */
  private snapshotting: Promise<unknown> = Promise.resolve();
  private closed = false;
  private lastFsyncMs = 0;
  private batches = 0;
  private storedClusterId: string | undefined;

  private constructor(
    readonly dir: string,
    private readonly db: LevelDb,
    private readonly log: MemoryLog,
    stored: StoredSnapMeta | undefined,
    clusterId: string | undefined,
    opts: LevelStorageOptions,
  ) {
    this.stored = stored;
    this.storedClusterId = clusterId;
    this.cache = new SnapshotCache(opts.snapshotLingerMs ?? DEFAULT_SNAPSHOT_LINGER_MS);
    this.logger = opts.logger ?? silent;
    this.chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
    const sync = opts.syncWrites ?? true;
    this.queue = new WriteQueue({
      write: (ops, mustSync) => rawBatch(db, ops, sync && mustSync),
      written: (ms) => {
        this.lastFsyncMs = ms;
        this.batches++;
        this.onFsync?.(ms);
      },
      failed: (err) => {
        const failure = new StorageFailedError(dir, err);
        this.logger.error(failure.message);
        return failure;
      },
    });
  }

  /**
   * Opens (or creates) the log in `dir` and verifies all of it. Throws CorruptDataError if any
   * record is damaged or missing, StorageLockedError if another process has it open.
   */
  static async open(dir: string, opts: LevelStorageOptions = {}): Promise<LevelStorage> {
    const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > 0xffffffff) {
      throw new RangeError(`chunkSize must be a positive 32-bit integer, got ${chunkSize}`);
    }
    const logger = opts.logger ?? silent;
    const t0 = performance.now();
    const db: LevelDb = new Level<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    try {
      await db.open();
    } catch (err) {
      throw openError(dir, err);
    }
    let rec: Recovered;
    try {
      rec = await verify(db, dir);
      if (rec.fresh) await db.put(fixedKey('format'), encodeFormat(), { sync: true });
      if (rec.orphanChunks.length > 0) {
        await db.batch(
          rec.orphanChunks.map((key) => ({ type: 'del' as const, key })),
          { sync: true },
        );
        logger.info(`${dir}: removed ${rec.orphanChunks.length} snapshot chunks left by an unfinished snapshot`);
      }
    } catch (err) {
      await db.close().catch(() => {});
      throw err;
    }
    const s = new LevelStorage(dir, db, new MemoryLog(rec.state), rec.snapStored, rec.clusterId, opts);
    // Read (and verified) anyway: the runtime restores its state machine from it right away.
    if (rec.snapStored) s.cache.keep({ meta: rec.state.snapshot, data: rec.snapData });
    const hs = rec.state.hardState;
    logger.info(
      `${dir}: opened Raft log in ${(performance.now() - t0).toFixed(0)} ms: entries ${s.firstIndex()}..${s.lastIndex()}, ` +
        `snapshot at ${rec.state.snapshot.index} (${rec.snapData.byteLength} bytes), term ${hs.term}, commit ${hs.commit}`,
    );
    return s;
  }

  // ---- Storage (synchronous reads for the core) ----

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.log.hardState(), confState: this.log.snapshotMeta().conf };
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    return this.log.entries(lo, hi, maxBytes);
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
    const meta = this.log.snapshotMeta();
    if (!this.log.snapshotStored()) return { meta, data: new Uint8Array(0) };
    const hit = this.cache.get(meta.index);
    if (hit) return hit;
    void this.loadSnapshot();
    throw new SnapshotTemporarilyUnavailableError();
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
    const meta = this.log.snapshotMeta();
    const stored = this.stored;
    if (!this.log.snapshotStored() || !stored) return Promise.resolve({ meta, data: new Uint8Array(0) });
    const current = () => !this.closed && this.log.snapshotMeta().index === meta.index;
    const durable = this.storedDurable;
    const read = async (): Promise<Snapshot> => {
      await durable;
      return { meta, data: await readSnapshotData(this.db, this.dir, stored) };
    };
    const p = this.cache.load(meta.index, read, current);
    // Callers that only prompt a read (snapshot()) do not wait for it; failures are logged here.
    p.catch((err: Error) => {
      if (current()) this.logger.error(`${this.dir}: cannot read the snapshot at index ${meta.index}: ${err.message}`);
    });
    return p;
  }

  /**
   * The latest snapshot's data as a stream of checked chunks, never whole in memory (a backup,
   * node/backup.ts); undefined while there is none but the implicit empty one. Once this
   * resolves, the stream reads from a LevelDB snapshot of that moment: a newer Raft snapshot
   * replacing this one meanwhile does not cut it short. Stop iterating early only with return().
   */
  async streamSnapshot(): Promise<{ meta: SnapshotMeta; bytes: number; chunks: AsyncIterable<Uint8Array> } | undefined> {
    for (;;) {
      const stored = this.stored;
      if (!this.log.snapshotStored() || !stored) return undefined;
      // A received snapshot's chunks are queued, not written, when it becomes current.
      await this.storedDurable;
      if (this.closed) throw new StorageClosedError(this.dir);
      if (this.stored !== stored) continue;
      const it = this.db.iterator({ ...chunkRange(stored.index), highWaterMarkBytes: 1 << 20 });
      const meta: SnapshotMeta = { index: stored.index, term: stored.term, conf: stored.conf };
      return { meta, bytes: stored.dataLength, chunks: snapshotChunks(it, this.dir, stored) };
    }
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
      return this.queue.push([{ type: 'put', key: fixedKey('clusterId'), value: encodeClusterId(id) }]);
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
        const { index, term, conf } = plan.snapshot.meta;
        const meta = this.newLayout(index, term, conf);
        const pieces = layOut(meta, plan.snapshot.data);
        // A received snapshot is written in full before anything queued after it, so it can go
        // as a run of chunk batches; only the final batch makes it current.
        pieces.forEach((piece, n) => void this.queue.pushAlone(() => [chunkPut(index, n, piece)]).catch(() => {}));
        ops.push(...this.snapshotSwitch(meta), { type: 'put', key: fixedKey('compacted'), value: encodeCompacted(plan.start!) });
        stored = meta;
      }
      for (const [from, to] of plan.deleted) for (let i = from; i <= to; i++) ops.push({ type: 'del', key: entryKey(i) });
      for (const e of plan.appended) ops.push({ type: 'put', key: entryKey(e.index), value: encodeEntry(e) });
      if (plan.hardState) ops.push({ type: 'put', key: fixedKey('hardState'), value: encodeHardState(plan.hardState) });
      this.log.applySave(plan);
      const done = this.queue.push(ops, sync);
      if (stored) this.replaceStored(stored, done);
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
    const run = this.snapshotting.then(() => this.writeSnapshot(index, conf, data));
    this.snapshotting = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /**
   * Deletes the entries up to and including `index`, which must not pass the snapshot.
   * Throws CompactedError if they are already gone (as MemoryStorage.Compact).
   */
  compact(index: number): Promise<void> {
    try {
      this.assertWritable();
      const plan = this.log.planCompact(index);
      const ops: WriteOp[] = [{ type: 'put', key: fixedKey('compacted'), value: encodeCompacted(plan.start) }];
      for (let i = plan.deleted[0]; i <= plan.deleted[1]; i++) ops.push({ type: 'del', key: entryKey(i) });
      this.log.applyCompact(plan);
      return this.queue.push(ops);
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
      lastFsyncMs: this.lastFsyncMs,
      batches: this.batches,
    };
  }

  /**
   * Waits for queued writes, stops a snapshot being written (its chunks are removed at the next
   * open) and closes LevelDB. Later writes fail with StorageClosedError.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cache.clear();
    await this.snapshotting;
    await this.queue.drain().catch(() => {});
    await this.db.close();
  }

  private async writeSnapshot(index: number, conf: ConfState, data: Uint8Array | AsyncIterable<Uint8Array>): Promise<SnapshotInfo> {
    this.assertWritable();
    checkConf(conf);
    const source = data instanceof Uint8Array ? [data] : data;
    if (typeof (source as Partial<AsyncIterable<unknown>>)?.[Symbol.asyncIterator] !== 'function' && !Array.isArray(source)) {
      throw new InvalidWriteError('snapshot data is neither a Uint8Array nor an async iterable of them');
    }
    const term = this.log.checkNewSnapshot(index);
    const meta = this.newLayout(index, term, conf);
    try {
      await writeChunks(source, meta, (op) => {
        this.assertWritable();
        return this.queue.pushAlone(() => [op]);
      });
      // A received snapshot or a truncation may have landed while the chunks were written.
      this.assertWritable();
      if (this.log.checkNewSnapshot(index) !== term) {
        throw new InvalidWriteError(`entry ${index} changed term while its snapshot was written`);
      }
    } catch (err) {
      if (!this.closed && !this.queue.failedWith()) {
        const orphans = Array.from({ length: meta.chunkCount }, (_, n) => ({ type: 'del' as const, key: chunkKey(index, n) }));
        await this.queue.push(orphans).catch(() => {});
      }
      throw err;
    }
    const snapMeta: SnapshotMeta = { index, term, conf };
    const ops = this.snapshotSwitch(meta);
    this.log.setSnapshot(snapMeta);
    const done = this.queue.push(ops);
    this.replaceStored(meta, done);
    await done;
    this.logger.info(`${this.dir}: snapshot at index ${index} (term ${term}, ${meta.dataLength} bytes) is durable`);
    return { meta: snapMeta, bytes: meta.dataLength };
  }

  /** The current snapshot's data is now `stored`, on disk once `durable`; what was cached is out of date. */
  private replaceStored(stored: StoredSnapMeta, durable: Promise<void>): void {
    this.stored = stored;
    this.storedDurable = durable;
    durable.catch(() => {}); // the writer's caller sees the failure
    this.cache.clear();
  }

  /** The layout of a new snapshot's data, before any of it is cut (snapshot-chunks.ts). */
  private newLayout(index: number, term: number, conf: ConfState): StoredSnapMeta {
    return { index, term, conf, dataLength: 0, dataCrc: 0, chunkSize: this.chunkSize, chunkCount: 0 };
  }

  /** Ops that make `meta` the current snapshot and delete the chunks of the one it replaces. */
  private snapshotSwitch(meta: StoredSnapMeta): WriteOp[] {
    const old = this.log.snapshotMeta().index;
    const ops: WriteOp[] = [{ type: 'put', key: fixedKey('snapMeta'), value: encodeSnapMeta(meta) }];
    for (let n = 0; n < (this.stored?.chunkCount ?? 0); n++) ops.push({ type: 'del', key: chunkKey(old, n) });
    return ops;
  }

  private assertWritable(): void {
    if (this.closed) throw new StorageClosedError(this.dir);
    const failure = this.queue.failedWith();
    if (failure) throw failure;
  }
}

function openError(dir: string, err: unknown): Error {
  if (isLevelCorruption(err)) {
    return new CorruptDataError(dir, `LevelDB cannot open it: ${innermost(err).message}`);
  }
  for (let e = err; e instanceof Error; e = e.cause) {
    if ((e as { code?: unknown }).code === 'LEVEL_LOCKED') return new StorageLockedError(dir);
  }
  return err instanceof Error ? err : new Error(String(err));
}

function innermost(err: unknown): Error {
  let e = err as Error;
  while (e.cause instanceof Error) e = e.cause;
  return e;
}

/**
 * recover() plus LevelDB's own report. When LevelDB itself dropped records while opening, the
 * evidence is gone after this open, so the verdict is written into the store: it stays refused
 * until an operator replaces the directory (the node then rejoins from a leader's snapshot).
 */
async function verify(db: LevelDb, dir: string): Promise<Recovered> {
  const dropped = await levelDbCorruptionReport(dir);
  let verdict: unknown;
  try {
    const rec = await recover(db, dir);
    if (!dropped) return rec;
    const last = rec.state.start.index + rec.state.entries.length;
    verdict = new CorruptDataError(
      dir,
      `LevelDB dropped damaged records while recovering (${dropped}); the log read back ends at index ${last} and acknowledged entries after it may be lost`,
      last + 1,
    );
  } catch (err) {
    verdict =
      dropped && err instanceof CorruptDataError
        ? new CorruptDataError(dir, `${err.detail}; LevelDB also dropped damaged records while recovering (${dropped})`, err.index)
        : err;
  }
  if (dropped && verdict instanceof CorruptDataError) {
    // Best effort: failing to record the verdict must not hide it.
    await db.put(fixedKey('quarantine'), encodeQuarantine(verdict.detail), { sync: true }).catch(() => {});
  }
  throw verdict;
}

/** classic-level's native batch behind abstract-level's ChainedBatch (its implementation API). */
interface NativeBatch {
  _put(key: Buffer, value: Buffer): void;
  _del(key: Buffer): void;
  _write(options: { sync: boolean }): Promise<void>;
}

/**
 * One LevelDB write batch through abstract-level's implementation API rather than the public
 * `batch()`: our keys and values are encoded Buffers already and we use no hooks, events or
 * sublevels, while the public method clones and re-validates every operation, which cost 2.3x
 * the CPU of the write itself (15.5-17.9 vs 6.7-7.0 us per 100-byte put in 20-put batches; the
 * Raft log's hottest path). A chained batch rather than `_batch(ops)`: the latter makes the
 * native side look up `type`, `key` and `value` on every op object by name, which cost another
 * 0.3-1.0 us per put (3.0-3.6 vs 2.2-2.7 us per 80-byte put in 30-put batches, CPU with the
 * worker thread's, test/bench/level-batch.ts on the 2-core bench machine).
 */
function rawBatch(db: LevelDb, ops: WriteOp[], sync: boolean): Promise<void> {
  if (db.status !== 'open') return db.batch(ops, { sync });
  const batch = (db as unknown as { _chainedBatch(): NativeBatch })._chainedBatch();
  // It registers itself for db.close() to close; it is written at once and never closed.
  db.detachResource(batch as unknown as Parameters<LevelDb['detachResource']>[0]);
  for (const op of ops) {
    if (op.type === 'put') batch._put(op.key, op.value);
    else batch._del(op.key);
  }
  return batch._write({ sync });
}
