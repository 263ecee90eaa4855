/**
 * One group's snapshots on disk (level-storage.ts holds one): the current snapshot's stored
 * layout, reading its data back on demand (snapshot-cache.ts), streaming it for a backup, and
 * writing a new one, either made locally (create) or received from the leader (receive, as part
 * of a save).
 *
 * Crash safety rests on LevelDB batches being atomic and on a snapshot's chunks being keyed by
 * its index: chunks are written first, under keys nothing points at yet, and one batch then
 * switches the metadata to them and deletes the previous snapshot's chunks. A crash at any point
 * leaves either the old snapshot or the new one, plus orphan chunks that the next open removes.
 */
import { type ConfState, type Snapshot, type SnapshotMeta, SnapshotTemporarilyUnavailableError } from '../raft/types.ts';
import { InvalidWriteError, StorageClosedError } from './errors.ts';
import type { KeySpace } from './keys.ts';
import { checkConf } from './log-checks.ts';
import type { MemoryLog } from './memory-log.ts';
import type { SnapshotInfo, StorageLogger } from './options.ts';
import { encodeSnapMeta, type StoredSnapMeta } from './records.ts';
import { type LevelDb, readSnapshotData, snapshotChunks, type Where } from './recover.ts';
import { SnapshotCache } from './snapshot-cache.ts';
import { chunkPut, layOut, writeChunks } from './snapshot-chunks.ts';
import type { WriteOp, WriteOwner, WriteQueue } from './write-queue.ts';

/** What the snapshots need of the group's storage: its place in LevelDB, its log and its state. */
export interface SnapshotsHost {
  readonly db: LevelDb;
  readonly queue: WriteQueue;
  readonly where: Where;
  /** Told of every batch carrying this group's writes. */
  readonly owner: WriteOwner;
  readonly log: MemoryLog;
  readonly logger: StorageLogger;
  /** Names the group in log lines. */
  readonly name: string;
  closed(): boolean;
  /** Throws if the storage is closed or its writes failed. */
  assertWritable(): void;
}

export class GroupSnapshots {
  /** Where the current snapshot's data is on disk; undefined for the implicit empty snapshot. */
  private stored: StoredSnapMeta | undefined;
  /** Settles when the current snapshot's switch batch is durable: its chunks can be read back. */
  private storedDurable: Promise<void> = Promise.resolve();
  /** create calls run one after another. */
  private snapshotting: Promise<unknown> = Promise.resolve();
  private readonly cache: SnapshotCache;
  private readonly ks: KeySpace;

  constructor(
    private readonly host: SnapshotsHost,
    stored: StoredSnapMeta | undefined,
    lingerMs: number,
    private readonly chunkSize: number,
  ) {
    this.ks = host.where.ks;
    this.stored = stored;
    this.cache = new SnapshotCache(lingerMs);
  }

  /** Keeps the data read (and verified) at open: the runtime restores its state machine from it. */
  keep(snap: Snapshot): void {
    this.cache.keep(snap);
  }

  /** Storage.snapshot: see level-storage.ts. */
  snapshot(): Snapshot {
    const meta = this.host.log.snapshotMeta();
    if (!this.host.log.snapshotStored()) return { meta, data: new Uint8Array(0) };
    const hit = this.cache.get(meta.index);
    if (hit) return hit;
    void this.load();
    throw new SnapshotTemporarilyUnavailableError();
  }

  /** The latest snapshot with its data, from memory or disk (LevelStorage.loadSnapshot). */
  load(): Promise<Snapshot> {
    const { log } = this.host;
    const meta = log.snapshotMeta();
    const stored = this.stored;
    if (!log.snapshotStored() || !stored) return Promise.resolve({ meta, data: new Uint8Array(0) });
    const current = () => !this.host.closed() && log.snapshotMeta().index === meta.index;
    const durable = this.storedDurable;
    const read = async (): Promise<Snapshot> => {
      await durable;
      return { meta, data: await readSnapshotData(this.host.db, this.host.where, stored) };
    };
    const p = this.cache.load(meta.index, read, current);
    // Callers that only prompt a read (snapshot()) do not wait for it; failures are logged here.
    p.catch((err: Error) => {
      if (current()) this.host.logger.error(`${this.host.name}: cannot read the snapshot at index ${meta.index}: ${err.message}`);
    });
    return p;
  }

  /** The latest snapshot's data as a stream of checked chunks (LevelStorage.streamSnapshot). */
  async stream(): Promise<{ meta: SnapshotMeta; bytes: number; chunks: AsyncIterable<Uint8Array> } | undefined> {
    for (;;) {
      const stored = this.stored;
      if (!this.host.log.snapshotStored() || !stored) return undefined;
      // A received snapshot's chunks are queued, not written, when it becomes current.
      await this.storedDurable;
      if (this.host.closed()) throw new StorageClosedError(this.host.where.dir, this.ks.group);
      if (this.stored !== stored) continue;
      const it = this.host.db.iterator({ ...this.ks.chunkRange(stored.index), highWaterMarkBytes: 1 << 20 });
      const meta: SnapshotMeta = { index: stored.index, term: stored.term, conf: stored.conf };
      return { meta, bytes: stored.dataLength, chunks: snapshotChunks(it, this.host.where, stored) };
    }
  }

  /**
   * A snapshot received from the leader, as part of a save: queues its chunks as batches of
   * their own (written in full before anything queued after them) and returns the layout and
   * the ops that make it current, which go into the save's own batch; call `switched` with that
   * batch's promise once it is queued.
   */
  receive(snap: Snapshot): { stored: StoredSnapMeta; ops: WriteOp[] } {
    const { index, term, conf } = snap.meta;
    const stored = this.newLayout(index, term, conf);
    const pieces = layOut(stored, snap.data);
    const { queue, owner } = this.host;
    pieces.forEach((piece, n) => void queue.pushAlone(() => [chunkPut(this.ks, index, n, piece)], owner).catch(() => {}));
    return { stored, ops: this.switchOps(stored) };
  }

  /** The current snapshot's data is now `stored`, on disk once `durable`; what was cached is out of date. */
  switched(stored: StoredSnapMeta, durable: Promise<void>): void {
    this.stored = stored;
    this.storedDurable = durable;
    durable.catch(() => {}); // the writer's caller sees the failure
    this.cache.clear();
  }

  /** LevelStorage.createSnapshot: calls run one after another. */
  create(index: number, conf: ConfState, data: Uint8Array | AsyncIterable<Uint8Array>): Promise<SnapshotInfo> {
    const run = this.snapshotting.then(() => this.write(index, conf, data));
    this.snapshotting = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Drops the cached data and waits for a snapshot being written to stop (at close). */
  async close(): Promise<void> {
    this.cache.clear();
    await this.snapshotting;
  }

  private async write(index: number, conf: ConfState, data: Uint8Array | AsyncIterable<Uint8Array>): Promise<SnapshotInfo> {
    const { host } = this;
    host.assertWritable();
    checkConf(conf);
    const source = data instanceof Uint8Array ? [data] : data;
    if (typeof (source as Partial<AsyncIterable<unknown>>)?.[Symbol.asyncIterator] !== 'function' && !Array.isArray(source)) {
      throw new InvalidWriteError('snapshot data is neither a Uint8Array nor an async iterable of them');
    }
    const term = host.log.checkNewSnapshot(index);
    const meta = this.newLayout(index, term, conf);
    try {
      await writeChunks(this.ks, source, meta, (op) => {
        host.assertWritable();
        return host.queue.pushAlone(() => [op], host.owner);
      });
      // A received snapshot or a truncation may have landed while the chunks were written.
      host.assertWritable();
      if (host.log.checkNewSnapshot(index) !== term) {
        throw new InvalidWriteError(`entry ${index} changed term while its snapshot was written`);
      }
    } catch (err) {
      if (!host.closed() && !host.queue.failedWith()) {
        const orphans = Array.from({ length: meta.chunkCount }, (_, n) => ({ type: 'del' as const, key: this.ks.chunk(index, n) }));
        await host.queue.push(orphans, true, host.owner).catch(() => {});
      }
      throw err;
    }
    const snapMeta: SnapshotMeta = { index, term, conf };
    const ops = this.switchOps(meta);
    host.log.setSnapshot(snapMeta);
    const done = host.queue.push(ops, true, host.owner);
    this.switched(meta, done);
    await done;
    host.logger.info(`${host.name}: snapshot at index ${index} (term ${term}, ${meta.dataLength} bytes) is durable`);
    return { meta: snapMeta, bytes: meta.dataLength };
  }

  /** The layout of a new snapshot's data, before any of it is cut (snapshot-chunks.ts). */
  private newLayout(index: number, term: number, conf: ConfState): StoredSnapMeta {
    return { index, term, conf, dataLength: 0, dataCrc: 0, chunkSize: this.chunkSize, chunkCount: 0 };
  }

  /** Ops that make `meta` the current snapshot and delete the chunks of the one it replaces. */
  private switchOps(meta: StoredSnapMeta): WriteOp[] {
    const old = this.host.log.snapshotMeta().index;
    const ops: WriteOp[] = [{ type: 'put', key: this.ks.fixed('snapMeta'), value: encodeSnapMeta(meta, this.ks) }];
    for (let n = 0; n < (this.stored?.chunkCount ?? 0); n++) ops.push({ type: 'del', key: this.ks.chunk(old, n) });
    return ops;
  }
}
