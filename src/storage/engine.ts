/**
 * One storage engine per node: a single LevelDB holding the Raft log of every group the node
 * hosts (keys prefixed by group, keys.ts), and a single group commit for all of them, so that a
 * turn in which many groups save costs one fsynced native batch, not one per group (CockroachDB
 * and TiKV share one engine per store the same way). Each group gets a view with the
 * single-group API the node already uses, `LevelStorage` (level-storage.ts).
 *
 *   const engine = await StorageEngine.open(dir, { logger });
 *   for (const id of engine.groupIds()) engine.group(id);   // views of groups found on disk
 *   await engine.createGroup(7);                             // a new, empty group
 *   await engine.dropGroup(7);                               // all its keys, in bounded slices
 *
 * Open lists the groups on disk and verifies each one on its own (recover.ts): a damaged group
 * is refused (engine.group throws its CorruptDataError, naming the group) while the others open.
 * Only LevelDB refusing to open, or damage outside every group's keys, refuses the directory.
 * A write failure stops the whole engine: every group's later writes fail, since a failed batch
 * may hold any group's writes (the node must restart and recover from what is durable).
 *
 * A drop first writes the group's drop marker, then deletes its keys a slice at a time through
 * the shared queue (never one batch holding a whole snapshot's keys), the marker last. A crash
 * in between leaves the marker, and the next open finishes the drop before listing the group.
 *
 * Existing directories: group 1's prefix is empty, so a directory written before the engine is
 * an engine holding group 1, and nothing is migrated (docs/architecture.md, the shared engine).
 */
import {
  CorruptDataError,
  InvalidWriteError,
  ShardedDirectoryError,
  StorageClosedError,
  StorageFailedError,
  UnknownGroupError,
  UnsupportedFormatError,
} from './errors.ts';
import { groupIdProblem, type KeySpace, keySpace, LEGACY_GROUP, MAX_GROUP_ID, prefixedGroupsRange, prefixedKeyGroup, rawGroupPrefix } from './keys.ts';
import { innermost, openLevel, rawBatch } from './level-db.ts';
import { LevelStorage } from './level-storage.ts';
import { DEFAULT_CHUNK_SIZE, type GroupHost, type LevelStorageOptions, type StorageLogger, silent } from './options.ts';
import { encodeDropping, encodeFormat, openRecord, RecordError } from './records.ts';
import { holdsKeys, isLevelCorruption, type LevelDb, levelDbCorruptionReport, type Recovered, verify } from './recover.ts';
import { type WriteOp, WriteQueue } from './write-queue.ts';

/** Keys deleted per batch when a group is dropped: a slice, never the whole group at once. */
export const DROP_SLICE_KEYS = 1000;

export interface EngineStats {
  /** Native LevelDB batches written since open, for all groups together. */
  batches: number;
  /** Of those, the ones fsynced. */
  syncedBatches: number;
  /** Duration of the most recent batch (fsync included), in milliseconds. */
  lastFsyncMs: number;
  /** Groups on disk: open, closed or refused. */
  groups: number;
}

export class StorageEngine implements GroupHost {
  /** Called after every batch with its duration in ms (each group's view has its own, too). */
  onFsync: ((ms: number) => void) | undefined;

  readonly queue: WriteQueue;
  /** Groups on disk, and their view (undefined once closed) or why they were refused. */
  private readonly groups = new Map<number, { view?: LevelStorage; refused?: Error }>();
  private readonly dropping = new Set<number>();
  private readonly logger: StorageLogger;
  /** Set by openSingleGroup: closing this view closes the engine. */
  private owner: LevelStorage | undefined;
  private closing: Promise<void> | undefined;
  private batches = 0;
  private syncedBatches = 0;
  private lastFsyncMs = 0;

  private constructor(
    readonly dir: string,
    readonly db: LevelDb,
    private readonly opts: LevelStorageOptions,
  ) {
    this.logger = opts.logger ?? silent;
    const sync = opts.syncWrites ?? true;
    this.queue = new WriteQueue({
      write: (ops, mustSync) => {
        if (sync && mustSync) this.syncedBatches++;
        return rawBatch(db, ops, sync && mustSync);
      },
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
   * Opens (or creates) the engine in `dir`: lists its groups, finishes interrupted drops and
   * verifies every group. Throws StorageLockedError if another process has it open, and
   * CorruptDataError only for damage that is not one group's (LevelDB refusing to open, keys
   * under the group prefix that name no group); a damaged group is refused on its own.
   */
  static async open(dir: string, opts: LevelStorageOptions = {}): Promise<StorageEngine> {
    const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > 0xffffffff) {
      throw new RangeError(`chunkSize must be a positive 32-bit integer, got ${chunkSize}`);
    }
    const t0 = performance.now();
    const db = await openLevel(dir);
    const engine = new StorageEngine(dir, db, opts);
    try {
      // Read before anything else: LevelDB rewrites its info log on every open (recover.ts).
      const dropped = await levelDbCorruptionReport(dir);
      for (const id of await listGroups(db, dir)) await engine.recoverGroup(id, dropped);
    } catch (err) {
      await engine.queue.drain().catch(() => {});
      await db.close().catch(() => {});
      if (!isLevelCorruption(err)) throw err;
      throw new CorruptDataError(dir, `LevelDB reports corruption while listing groups: ${innermost(err).message}`);
    }
    // A refused group's error says what is wrong; whoever asks for the group gets it (group()).
    const refused = engine.groupIds().filter((id) => engine.refusal(id));
    const ms = (performance.now() - t0).toFixed(0);
    const summary = `${dir}: opened the storage engine in ${ms} ms: ${engine.groups.size} groups`;
    if (refused.length === 0) engine.logger.info(summary);
    else engine.logger.warn(`${summary}, of which refused as damaged: ${refused.map((id) => `group ${id}`).join(', ')}`);
    return engine;
  }

  /** The groups on disk, in order: open, closed and refused ones (not those being dropped). */
  groupIds(): number[] {
    return [...this.groups.keys()].filter((id) => !this.dropping.has(id)).sort((a, b) => a - b);
  }

  /** Whether group `id` is on disk (open, closed or refused) and not being dropped. */
  has(id: number): boolean {
    return this.groups.has(id) && !this.dropping.has(id);
  }

  /**
   * Group `id`'s storage. Throws the group's CorruptDataError (or UnsupportedFormatError) if it
   * was refused at open, StorageClosedError once its view was closed, UnknownGroupError if the
   * engine holds no such group.
   */
  group(id: number): LevelStorage {
    this.assertOpen();
    const g = this.groups.get(id);
    if (!g || this.dropping.has(id)) throw new UnknownGroupError(this.dir, id);
    if (g.refused) throw g.refused;
    if (!g.view) throw new StorageClosedError(this.dir, id);
    return g.view;
  }

  /** Why group `id` was refused at open, if it was. */
  refusal(id: number): Error | undefined {
    return this.groups.get(id)?.refused;
  }

  /** Creates group `id`, empty; resolves with its storage once its format marker is durable. */
  async createGroup(id: number): Promise<LevelStorage> {
    this.assertOpen();
    const problem = groupIdProblem(id);
    if (problem) throw new RangeError(problem);
    if (this.dropping.has(id)) throw new InvalidWriteError(`group ${id} is being dropped in ${this.dir}; create it again once the drop is done`);
    if (this.groups.has(id)) throw new InvalidWriteError(`group ${id} already exists in ${this.dir}`);
    const ks = keySpace(id);
    const slot: { view?: LevelStorage } = {};
    this.groups.set(id, slot);
    try {
      await this.queue.push([{ type: 'put', key: ks.fixed('format'), value: encodeFormat(ks) }]);
    } catch (err) {
      this.groups.delete(id);
      throw err;
    }
    slot.view = new LevelStorage(this, ks, emptyGroup(), this.opts);
    this.logger.info(`${this.dir}: created group ${id}`);
    return slot.view;
  }

  /**
   * Deletes group `id` and all its keys, refused or not (a refused group's replica is replaced
   * this way: drop it, then receive a snapshot from the group's leader). Its view is closed
   * first. The keys go DROP_SLICE_KEYS per batch; a crash part-way is finished at the next open.
   */
  async dropGroup(id: number): Promise<void> {
    this.assertOpen();
    const g = this.groups.get(id);
    if (!g || this.dropping.has(id)) throw new UnknownGroupError(this.dir, id);
    this.dropping.add(id);
    try {
      await g.view?.close();
      const ks = keySpace(id);
      await this.queue.push([{ type: 'put', key: ks.fixed('dropping'), value: encodeDropping(ks) }]);
      const deleted = await this.erase(ks);
      this.groups.delete(id);
      this.logger.info(`${this.dir}: dropped group ${id} (${deleted} keys)`);
    } finally {
      this.dropping.delete(id);
    }
  }

  stats(): EngineStats {
    return { batches: this.batches, syncedBatches: this.syncedBatches, lastFsyncMs: this.lastFsyncMs, groups: this.groups.size };
  }

  /** Closes every group's view (waiting for its writes), then LevelDB. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const g of this.groups.values()) await g.view?.close();
      await this.queue.drain().catch(() => {});
      await this.db.close();
    })();
    return this.closing;
  }

  /** GroupHost: a view closed. */
  async release(view: LevelStorage): Promise<void> {
    const g = this.groups.get(view.group);
    if (g?.view === view) g.view = undefined;
    if (this.owner === view && !this.closing) await this.close();
  }

  /** Makes this engine close with `view` (LevelStorage.open's single group). */
  ownedBy(view: LevelStorage): void {
    this.owner = view;
  }

  private async recoverGroup(id: number, dropped: string | undefined): Promise<void> {
    const ks = keySpace(id);
    const w = { dir: this.dir, ks };
    const marker = await this.db.get(ks.fixed('dropping'));
    if (marker !== undefined) {
      try {
        openRecord(ks.fixed('dropping'), marker);
      } catch (err) {
        if (!(err instanceof RecordError)) throw err;
        this.refuse(id, new CorruptDataError(this.dir, `the drop marker: ${err.message}`, undefined, id));
        return;
      }
      const deleted = await this.erase(ks);
      this.logger.info(`${this.dir}: finished dropping group ${id} (${deleted} keys were left)`);
      return;
    }
    let rec: Recovered;
    try {
      rec = await verify(this.db, w, dropped);
    } catch (err) {
      if (err instanceof CorruptDataError || err instanceof UnsupportedFormatError) return this.refuse(id, err);
      throw err;
    }
    if (rec.orphanChunks.length > 0) {
      await this.queue.push(rec.orphanChunks.map((key) => ({ type: 'del' as const, key })));
      this.logger.info(`${this.dir} (group ${id}): removed ${rec.orphanChunks.length} snapshot chunks left by an unfinished snapshot`);
    }
    const view = new LevelStorage(this, ks, rec, this.opts);
    this.groups.set(id, { view });
    const hs = rec.state.hardState;
    this.logger.info(
      `${this.dir} (group ${id}): opened Raft log: entries ${view.firstIndex()}..${view.lastIndex()}, ` +
        `snapshot at ${rec.state.snapshot.index} (${rec.snapData.byteLength} bytes), term ${hs.term}, commit ${hs.commit}`,
    );
  }

  private refuse(id: number, err: Error): void {
    this.groups.set(id, { refused: err });
  }

  /** Deletes every key of a group, DROP_SLICE_KEYS per batch, the drop marker last. */
  private async erase(ks: KeySpace): Promise<number> {
    const marker = ks.fixed('dropping');
    let deleted = 0;
    for (const span of ks.spans()) {
      let after: Buffer | undefined;
      for (;;) {
        const range = after ? { gt: after, lt: span.lt } : { gte: span.gte, lt: span.lt };
        if (range.lt === undefined) delete range.lt;
        const keys = await this.db.keys({ ...range, limit: DROP_SLICE_KEYS }).all();
        if (keys.length === 0) break;
        after = keys[keys.length - 1];
        const ops: WriteOp[] = keys.filter((k) => !k.equals(marker)).map((key) => ({ type: 'del', key }));
        // Unsynced: the marker, durable before these, makes a crash part-way harmless.
        await this.queue.push(ops, false);
        deleted += ops.length;
      }
    }
    await this.queue.push([{ type: 'del', key: marker }]);
    return deleted;
  }

  private assertOpen(): void {
    if (this.closing) throw new StorageClosedError(this.dir);
  }
}

/**
 * LevelStorage.open: the engine in `dir` with group 1 alone in use, created if the directory
 * holds no group 1; closing the returned storage closes the engine.
 */
export async function openSingleGroup(dir: string, opts: LevelStorageOptions): Promise<LevelStorage> {
  const engine = await StorageEngine.open(dir, opts);
  try {
    if (engine.has(0)) throw new ShardedDirectoryError(dir);
    const view = engine.has(LEGACY_GROUP) ? engine.group(LEGACY_GROUP) : await engine.createGroup(LEGACY_GROUP);
    engine.ownedBy(view);
    return view;
  } catch (err) {
    await engine.close().catch(() => {});
    throw err;
  }
}

/** What recover() finds of a group with no keys. */
const emptyGroup = (): Recovered => ({
  state: {
    hardState: { term: 0, vote: '', commit: 0 },
    snapshot: { index: 0, term: 0, conf: { voters: [], learners: [] } },
    snapshotStored: false,
    start: { index: 0, term: 0 },
    entries: [],
  },
  fresh: true,
  snapStored: undefined,
  snapData: new Uint8Array(0),
  orphanChunks: [],
  clusterId: undefined,
});

/** The groups with any key on disk, in order: one seek per group. */
async function listGroups(db: LevelDb, dir: string): Promise<number[]> {
  const ids: number[] = [];
  if (await holdsKeys(db, { dir, ks: keySpace(LEGACY_GROUP) })) ids.push(LEGACY_GROUP);
  const { lt } = prefixedGroupsRange();
  let gte = prefixedGroupsRange().gte;
  for (;;) {
    const [key] = await db.keys({ gte, lt, limit: 1 }).all();
    if (key === undefined) return ids;
    const id = prefixedKeyGroup(key);
    if (id === undefined || id === LEGACY_GROUP) {
      throw new CorruptDataError(dir, `key ${key.toString('hex')} is under the group prefix but names no group`);
    }
    ids.push(id);
    if (id === MAX_GROUP_ID) return ids;
    gte = rawGroupPrefix(id + 1);
  }
}
