/**
 * A simulated node's storage: LevelStorage's contract without LevelDB. The core reads a
 * volatile image (a MemoryLog, as LevelStorage serves it), changed the moment save() is called;
 * the disk (another MemoryLog plus the snapshot data) gets each write only when the simulation
 * completes it, after a seeded delay, strictly in issue order. A crash drops the image and every
 * queued write; a restart loads a new image from the disk alone. The safety monitor looks only
 * at the disk, so it judges durability honestly.
 *
 * Both logs are MemoryLogs, so every write is planned and checked exactly as the runtime's
 * (a save the runtime would refuse throws here too). The image moves applied, durable entries
 * out of memory as LevelStorage does (trim), and reads them back from the disk when the core
 * asks for them: the read joins the write queue, so it completes after a seeded delay too.
 */
import type { Storage } from '../../src/raft/index.ts';
import { type ConfState, EntriesNotLoadedError, type Entry, type HardState, type Snapshot, type SnapshotMeta } from '../../src/raft/types.ts';
import { READ_BYTES } from '../../src/storage/log-readback.ts';
import { MemoryLog, type SaveRequest } from '../../src/storage/memory-log.ts';

/** What survives a crash. */
export class Disk {
  data: Uint8Array = new Uint8Array(0);

  constructor(readonly log: MemoryLog) {}

  /** An empty disk (a node started with --join), or one holding `entries` committed (bootstrap). */
  static fresh(entries: Entry[] = []): Disk {
    const log = emptyLog();
    if (entries.length > 0) {
      const hs: HardState = { term: 1, vote: '', commit: entries.length };
      log.applySave(log.planSave({ entries, hardState: hs }));
    }
    return new Disk(log);
  }
}

export function emptyLog(): MemoryLog {
  return new MemoryLog({
    hardState: { term: 0, vote: '', commit: 0 },
    snapshot: { index: 0, term: 0, conf: { voters: [], learners: [] } },
    snapshotStored: false,
    start: { index: 0, term: 0 },
    entries: [],
  });
}

/** A copy of `log` (what a restarted process loads). */
export function copyLog(log: MemoryLog): MemoryLog {
  const first = log.firstIndex();
  return new MemoryLog({
    hardState: log.hardState(),
    snapshot: log.snapshotMeta(),
    snapshotStored: log.snapshotStored(),
    start: { index: first - 1, term: log.term(first - 1) },
    entries: log.count() > 0 ? log.entries(first, log.lastIndex() + 1, Number.POSITIVE_INFINITY) : [],
  });
}

type Write =
  | { kind: 'save'; req: SaveRequest; leaderTerm: number | undefined; done: () => void }
  /** A state machine snapshot (createSnapshot) and the compaction after it. */
  | { kind: 'snapshot'; meta: SnapshotMeta; data: Uint8Array; compactTo: number; done: () => void }
  /** Entries out of memory read back from the disk (log-readback.ts). */
  | { kind: 'read'; lo: number; hi: number; done: () => void };

/** What the simulation does as writes are issued and become durable. */
export interface DiskHooks {
  /** A write joined the queue: its completion must be scheduled, after the ones before it. */
  issued(): void;
  /** A save is about to reach the disk (as it was); `leaderTerm`: the term it was issued as leader in. */
  beforeDurable(req: SaveRequest, leaderTerm: number | undefined): void;
  afterDurable(req: SaveRequest): void;
}

export class SimStorage implements Storage {
  private readonly image: MemoryLog;
  private imageData: Uint8Array;
  private readonly queue: Write[] = [];
  /** Set by a crash: nothing completes any more, and the queue is gone. */
  private dead = false;
  /** Every entry up to here is on the disk (LevelStorage's durableTo). */
  private durableTo: number;
  private reading = false;

  constructor(
    readonly disk: Disk,
    private readonly hooks: DiskHooks,
  ) {
    this.image = copyLog(disk.log);
    this.imageData = disk.data;
    this.durableTo = this.image.lastIndex();
  }

  /** Writes (and reads back) waiting for the disk. */
  get queued(): number {
    return this.queue.length;
  }

  // ---- Storage (what the core reads) ----

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.image.hardState(), confState: this.image.snapshotMeta().conf };
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    try {
      return this.image.entries(lo, hi, maxBytes);
    } catch (err) {
      if (err instanceof EntriesNotLoadedError && !this.reading && !this.dead) {
        this.reading = true;
        this.queue.push({ kind: 'read', lo: err.index, hi: err.memoryFirst, done: () => {} });
        this.hooks.issued();
      }
      throw err;
    }
  }

  /** As LevelStorage.trim: applied entries past the tail leave memory, none not yet durable. */
  trim(applied: number, keepEntries: number): void {
    this.image.trim(Math.min(applied, this.durableTo), keepEntries, Number.POSITIVE_INFINITY);
  }

  term(i: number): number {
    return this.image.term(i);
  }

  firstIndex(): number {
    return this.image.firstIndex();
  }

  lastIndex(): number {
    return this.image.lastIndex();
  }

  snapshot(): Snapshot {
    return { meta: this.image.snapshotMeta(), data: this.imageData };
  }

  // ---- writes ----

  /** As LevelStorage.save: visible at once, durable when the promise resolves. */
  save(req: SaveRequest, leaderTerm: number | undefined): Promise<void> {
    const plan = this.image.planSave(req);
    this.image.applySave(plan);
    const from = plan.appended[0]?.index ?? (plan.snapshot && !plan.retain ? plan.start!.index + 1 : Number.POSITIVE_INFINITY);
    if (from <= this.durableTo) this.durableTo = from - 1;
    const last = plan.appended[plan.appended.length - 1]?.index;
    if (req.snapshot) this.imageData = req.snapshot.data;
    return new Promise((resolve) => {
      const done = () => {
        if (last !== undefined && last > this.durableTo) this.durableTo = last;
        resolve();
      };
      this.queue.push({ kind: 'save', req, leaderTerm, done });
      this.hooks.issued();
    });
  }

  /**
   * A snapshot of the state machine at `index` (applied, so committed), then compaction up to
   * `compactTo`: current in the image and on the disk once the writes before it are durable
   * (LevelStorage queues its chunks the same way). Returns false if there is nothing newer to take.
   */
  createSnapshot(index: number, conf: ConfState, data: Uint8Array, compactTo: number): Promise<void> | undefined {
    if (index <= this.image.snapshotMeta().index || index > this.image.hardState().commit) return undefined;
    const meta: SnapshotMeta = { index, term: this.image.term(index), conf };
    return new Promise((resolve) => {
      this.queue.push({ kind: 'snapshot', meta, data, compactTo, done: resolve });
      this.hooks.issued();
    });
  }

  /** The oldest queued write is durable. */
  completeOldest(): void {
    if (this.dead) return;
    const w = this.queue.shift();
    if (!w) throw new Error('a write completed that was never queued');
    if (w.kind === 'read') {
      this.reading = false;
      const log = this.disk.log;
      // Compacted or truncated on the disk meanwhile: fill keeps only what agrees.
      if (w.lo >= log.firstIndex() && w.lo <= log.lastIndex()) this.image.fill(log.entries(w.lo, Math.min(w.hi, log.lastIndex() + 1), READ_BYTES));
    } else if (w.kind === 'save') {
      this.hooks.beforeDurable(w.req, w.leaderTerm);
      this.disk.log.applySave(this.disk.log.planSave(w.req));
      if (w.req.snapshot) this.disk.data = w.req.snapshot.data;
      this.hooks.afterDurable(w.req);
    } else {
      snapshotAndCompact(this.disk, w.meta, w.data, w.compactTo);
      // The image may have moved on (a received snapshot overtook this one): then it is dropped.
      if (w.meta.index > this.image.snapshotMeta().index && w.meta.index <= this.image.lastIndex() && this.image.term(w.meta.index) === w.meta.term) {
        this.image.setSnapshot(w.meta);
        this.imageData = w.data;
        if (w.compactTo >= this.image.firstIndex()) this.image.applyCompact(this.image.planCompact(w.compactTo));
      }
    }
    w.done();
  }

  /** Every queued write becomes durable now (a fast disk, then a crash). */
  flush(): void {
    while (!this.dead && this.queue.length > 0) this.completeOldest();
  }

  /** The process died: queued writes are lost and their promises never settle. */
  crash(): number {
    const lost = this.queue.length;
    this.dead = true;
    this.queue.length = 0;
    return lost;
  }
}

function snapshotAndCompact(disk: Disk, meta: SnapshotMeta, data: Uint8Array, compactTo: number): void {
  const log = disk.log;
  if (meta.index <= log.snapshotMeta().index || meta.index > log.lastIndex() || log.term(meta.index) !== meta.term) return;
  log.setSnapshot(meta);
  disk.data = data;
  if (compactTo >= log.firstIndex()) log.applyCompact(log.planCompact(compactTo));
}
