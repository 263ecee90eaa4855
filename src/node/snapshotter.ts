/**
 * When to snapshot and how a snapshot is laid out. The state machine serializes itself in
 * slices (so the event loop keeps ticking and heartbeats keep flowing); this module wraps that
 * image with the member address book, which every replica must agree on as well.
 */

import { type KvStore, snapshotImageProblem } from '../kv/index.ts';
import type { ConfState, Snapshot } from '../raft/types.ts';
import type { LevelStorage, SnapshotInfo } from '../storage/index.ts';
import type { NodeConfig } from './config.ts';
import type { Logger } from './logger.ts';
import type { Members } from './members.ts';

const MAGIC = 0x524b5653; // "RKVS"
const VERSION = 1;
const HEADER = 9;

export class SnapshotFormatError extends Error {
  override name = 'SnapshotFormatError';
}

/** The snapshot starts with the address book; the state machine's image follows. */
export function envelopeHeader(members: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(HEADER + members.length);
  out.writeUInt32BE(MAGIC, 0);
  out.writeUInt8(VERSION, 4);
  out.writeUInt32BE(members.length, 5);
  out.set(members, HEADER);
  return out;
}

/**
 * The address book and the image of a snapshot, or (of its first bytes) undefined when they
 * end before the address book does; a backup streams the image without holding it.
 */
export function splitEnvelope(data: Uint8Array): { members: Uint8Array; kv: Uint8Array } | undefined {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (b.length >= 4 && b.readUInt32BE(0) !== MAGIC) throw new SnapshotFormatError('not a RaftKV snapshot');
  if (b.length < HEADER) return undefined;
  if (b.readUInt8(4) !== VERSION) throw new SnapshotFormatError(`unsupported snapshot version ${b.readUInt8(4)}`);
  const n = b.readUInt32BE(5);
  if (HEADER + n > b.length) return undefined;
  return { members: b.subarray(HEADER, HEADER + n), kv: b.subarray(HEADER + n) };
}

function decodeEnvelope(data: Uint8Array): { members: Uint8Array; kv: Uint8Array } {
  if (data.byteLength < HEADER) throw new SnapshotFormatError('not a RaftKV snapshot');
  const parts = splitEnvelope(data);
  if (parts === undefined) throw new SnapshotFormatError('truncated snapshot header');
  return parts;
}

/**
 * The index to compact the log to after a snapshot at `index`, given the sizes (entrySize) of the
 * retained entries that end at `index`: the kept tail holds at most `keepEntries` entries and at
 * most `keepBytes` bytes.
 * Entries count alone is no bound on memory: 5000 entries of 1000-key MSETs are 600 MB. A
 * follower further behind than the tail gets the snapshot instead.
 */
export function compactionPoint(tail: readonly number[], index: number, keepEntries: number, keepBytes: number): number {
  let kept = 0;
  let bytes = 0;
  for (let i = tail.length - 1; i >= 0 && kept < keepEntries; i--) {
    bytes += tail[i];
    if (bytes > keepBytes) break;
    kept++;
  }
  return index - kept;
}

/** What a snapshot is restored into: the state machine and the address book. */
export interface SnapshotTarget {
  readonly kv: Pick<KvStore, 'restore'>;
  readonly members: Pick<Members, 'restore'>;
}

/** What the snapshotter needs from its node. */
export interface SnapshotHost extends SnapshotTarget {
  readonly kv: Pick<KvStore, 'restore' | 'beginSnapshot'>;
  /** The state to put in a snapshot now: the applied index, its configuration, the address book. */
  envelope(): { index: number; conf: ConfState; members: Uint8Array };
  /** A snapshot was taken, saved and the log compacted, in `ms` (the metrics histogram). */
  taken(ms: number): void;
}

/** The storage calls the snapshotter makes: size the log, write a snapshot, compact. */
export type SnapshotStorage = Pick<LevelStorage, 'snapshotMeta' | 'stats' | 'firstIndex' | 'entrySizes' | 'createSnapshot' | 'compact'>;

export type SnapshotSettings = Pick<NodeConfig, 'snapshotEntries' | 'snapshotBytes' | 'snapshotKeepEntries' | 'snapshotKeepBytes'>;

/**
 * Replace the state machine and the address book with a snapshot's: on open (open.ts), before
 * the node exists, and for a snapshot received from the leader (Snapshotter.install).
 */
export async function installSnapshot(snap: Snapshot, into: SnapshotTarget, log: Logger): Promise<void> {
  const { members, kv } = decodeEnvelope(snap.data);
  if (members.length > 0) {
    for (const problem of into.members.restore(members)) log.error({ index: snap.meta.index }, `snapshot ${snap.meta.index}: ${problem}`);
  }
  // The bootstrap snapshot at index 0 carries only the address book.
  if (kv.length > 0) await into.kv.restore(kv);
  log.info({ index: snap.meta.index, term: snap.meta.term, bytes: snap.data.length }, 'installed snapshot');
}

export class Snapshotter {
  private running: Promise<SnapshotInfo> | undefined;
  private stopped = false;
  /** Bytes of the retained entries at or below the snapshot's index, for the (snapshot, first index) it was measured at. */
  private tail = { snapIndex: -1, first: -1, bytes: 0 };

  constructor(
    private readonly host: SnapshotHost,
    private readonly storage: SnapshotStorage,
    private readonly cfg: SnapshotSettings,
    private readonly log: Logger,
  ) {}

  /**
   * Why a snapshot received from a peer cannot be installed (its envelope or its image's
   * checksum is wrong), or undefined. A corrupt or forged one is dropped before the core sees
   * it, so it is never saved (see snapshotImageProblem).
   */
  async problem(data: Uint8Array): Promise<string | undefined> {
    let kv: Uint8Array;
    try {
      kv = decodeEnvelope(data).kv;
    } catch (err) {
      return (err as Error).message;
    }
    return kv.length === 0 ? undefined : snapshotImageProblem(kv);
  }

  /** Replace the state machine with a snapshot's image. */
  install(snap: Snapshot): Promise<void> {
    return installSnapshot(snap, this.host, this.log);
  }

  maybeSnapshot(applied: number): void {
    if (this.running || this.stopped) return;
    const since = applied - this.storage.snapshotMeta().index;
    const cfg = this.cfg;
    if (since < cfg.snapshotEntries && this.storage.stats().bytes - this.tailBytes() < cfg.snapshotBytes) return;
    if (since <= 0) return;
    this.take().catch((err: Error) => this.log.error({ err }, 'snapshot failed'));
  }

  /**
   * The kept tail is not new log: counting it toward snapshot-bytes would snapshot on every apply
   * once the tail alone passes the threshold. Recomputed only when the snapshot or the
   * compaction point moves (at most keep-entries entries).
   */
  private tailBytes(): number {
    const snapIndex = this.storage.snapshotMeta().index;
    const first = this.storage.firstIndex();
    if (snapIndex !== this.tail.snapIndex || first !== this.tail.first) {
      let bytes = 0;
      if (first <= snapIndex) for (const n of this.storage.entrySizes(first, snapIndex + 1)) bytes += n;
      this.tail = { snapIndex, first, bytes };
    }
    return this.tail.bytes;
  }

  /** Snapshot now, after any snapshot already running (admin API, benchmarks). */
  take(): Promise<SnapshotInfo> {
    const p = (this.running ?? Promise.resolve()).catch(() => undefined).then(() => this.takeOne());
    this.running = p;
    const clear = () => {
      if (this.running === p) this.running = undefined;
    };
    p.then(clear, clear);
    return p;
  }

  private async takeOne(): Promise<SnapshotInfo> {
    const { index, conf, members } = this.host.envelope();
    const t0 = performance.now();
    const snap = await this.storage.createSnapshot(index, conf, this.image(members));
    const { snapshotKeepEntries, snapshotKeepBytes } = this.cfg;
    const first = Math.max(this.storage.firstIndex(), index - snapshotKeepEntries + 1);
    const tail = first <= index ? this.storage.entrySizes(first, index + 1) : [];
    const compactTo = compactionPoint(tail, index, snapshotKeepEntries, snapshotKeepBytes);
    if (compactTo >= this.storage.firstIndex()) await this.storage.compact(compactTo);
    this.host.taken(performance.now() - t0);
    this.log.info(
      { index, bytes: snap.bytes, ms: Math.round(performance.now() - t0), compactedTo: Math.max(compactTo, 0) },
      'took snapshot and compacted the log',
    );
    return snap;
  }

  /**
   * The snapshot as a stream: the address book, then the state machine's chunks as it writes
   * them. The storage copies each chunk before asking for the next, so the writer may refill one
   * buffer, and the whole image is never in memory at once.
   */
  private async *image(members: Uint8Array): AsyncGenerator<Uint8Array> {
    yield envelopeHeader(members);
    yield* this.host.kv.beginSnapshot(undefined, true);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running?.catch(() => undefined);
  }
}
