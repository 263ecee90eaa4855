/**
 * When to snapshot and how a snapshot is laid out. The state machine serializes itself in
 * slices (so the event loop keeps ticking and heartbeats keep flowing); this module wraps that
 * image with the member address book, which every replica must agree on as well.
 */
import type { LevelStorage } from '../storage/index.ts';
import type { Snapshot } from '../raft/types.ts';
import type { Logger } from './logger.ts';
import type { RaftNode } from './raft-node.ts';

const MAGIC = 0x524b5653; // "RKVS"
const VERSION = 1;
const HEADER = 9;

export class SnapshotFormatError extends Error {
  override name = 'SnapshotFormatError';
}

export class Snapshotter {
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly node: RaftNode,
    private readonly storage: LevelStorage,
    private readonly log: Logger,
  ) {}

  encodeEnvelope(kvData: Uint8Array, members: Uint8Array = this.node.members.encode()): Uint8Array {
    const out = Buffer.allocUnsafe(HEADER + members.length + kvData.length);
    out.writeUInt32BE(MAGIC, 0);
    out.writeUInt8(VERSION, 4);
    out.writeUInt32BE(members.length, 5);
    out.set(members, HEADER);
    out.set(kvData, HEADER + members.length);
    return out;
  }

  private decodeEnvelope(data: Uint8Array): { members: Uint8Array; kv: Uint8Array } {
    const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (b.length < HEADER || b.readUInt32BE(0) !== MAGIC) throw new SnapshotFormatError('not a RaftKV snapshot');
    if (b.readUInt8(4) !== VERSION) throw new SnapshotFormatError(`unsupported snapshot version ${b.readUInt8(4)}`);
    const n = b.readUInt32BE(5);
    if (HEADER + n > b.length) throw new SnapshotFormatError('truncated snapshot header');
    return { members: b.subarray(HEADER, HEADER + n), kv: b.subarray(HEADER + n) };
  }

  /** Replace the state machine with a snapshot's image. */
  async install(snap: Snapshot): Promise<void> {
    const { members, kv } = this.decodeEnvelope(snap.data);
    if (members.length > 0) this.node.members.restore(members);
    // The bootstrap snapshot at index 0 carries only the address book.
    if (kv.length > 0) await this.node.kv.restore(kv);
    this.log.info({ index: snap.meta.index, term: snap.meta.term, bytes: snap.data.length }, 'installed snapshot');
  }

  maybeSnapshot(applied: number): void {
    if (this.running || this.stopped) return;
    const since = applied - this.storage.snapshot().meta.index;
    const cfg = this.node.cfg;
    if (since < cfg.snapshotEntries && this.storage.stats().bytes < cfg.snapshotBytes) return;
    if (since <= 0) return;
    this.running = this.take().then(
      () => undefined,
      (err: Error) => this.log.error({ err }, 'snapshot failed'),
    );
    void this.running.finally(() => {
      this.running = undefined;
    });
  }

  /** Snapshot now (also used by tests and the admin API). */
  async take(): Promise<Snapshot> {
    const { index, conf, members } = this.node.snapshotEnvelope();
    const t0 = performance.now();
    const chunks: Uint8Array[] = [];
    for await (const c of this.node.kv.beginSnapshot()) chunks.push(c);
    const snap = await this.storage.createSnapshot(index, conf, this.encodeEnvelope(Buffer.concat(chunks), members));
    const compactTo = index - this.node.cfg.snapshotKeepEntries;
    if (compactTo >= this.storage.firstIndex()) await this.storage.compact(compactTo);
    this.node.metrics.snapshots.inc();
    this.log.info(
      { index, bytes: snap.data.length, ms: Math.round(performance.now() - t0), compactedTo: Math.max(compactTo, 0) },
      'took snapshot and compacted the log',
    );
    return snap;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running?.catch(() => undefined);
  }
}
