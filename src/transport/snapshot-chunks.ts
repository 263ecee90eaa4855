/**
 * Snapshot transfer over a peer link.
 *
 * A Snap message whose data exceeds the chunk size travels as a SnapBegin frame (the message
 * without data, plus the data size) followed by SnapChunk frames in offset order; the receiver
 * copies them into one buffer and delivers the whole Message once the last byte arrived. This
 * keeps every frame under maxPayload and lets heartbeats interleave with a large transfer.
 *
 * A Snap message belongs to one group (SnapBegin names it). A link sends one transfer at a time:
 * other groups' snapshots for the same peer wait behind it (outbox.ts). Each receiving connection
 * holds at most one transfer. It is dropped, and its buffer freed,
 * when it stalls past a timeout, when a newer transfer begins, or when the connection closes.
 * All connections of a node share a few transfer slots (SnapshotSlots), so the memory of
 * incoming snapshots is bounded by slots × maxBytes however many members send at once; a
 * transfer refused for want of a slot is dropped, and Raft sends the snapshot again later.
 */
import type { Logger } from 'pino';
import type { Message } from '../raft/types.ts';
import { encodeBatch, encodeSnapBegin, encodeSnapChunk, messageSize, type SnapBegin, type SnapChunk } from './codec.ts';
import { type GroupId, GroupIds } from './groups.ts';

/** The frames of one outbound Snap message, produced lazily so only one chunk is in memory. */
export class OutboundSnapshot {
  private offset = -1;
  private readonly data: Uint8Array;

  constructor(
    readonly transferId: number,
    readonly message: Message,
    private readonly chunkBytes: number,
    readonly group: GroupId = GroupIds.Default,
  ) {
    this.data = message.snapshot?.data ?? new Uint8Array(0);
  }

  get finished(): boolean {
    return this.offset >= this.data.length;
  }

  /** Bytes of snapshot data not yet handed to the socket. */
  get pendingBytes(): number {
    return this.data.length - Math.max(this.offset, 0);
  }

  /** The next frame to send, or undefined once everything was produced. */
  nextFrame(): Buffer | undefined {
    if (this.finished) return undefined;
    if (this.offset < 0) {
      if (this.data.length <= this.chunkBytes) {
        this.offset = this.data.length;
        return encodeBatch([this.message], [messageSize(this.message)], [this.group]);
      }
      this.offset = 0;
      return encodeSnapBegin(this.transferId, this.message, this.group);
    }
    const end = Math.min(this.offset + this.chunkBytes, this.data.length);
    const frame = encodeSnapChunk(this.transferId, this.offset, this.data.subarray(this.offset, end));
    this.offset = end;
    return frame;
  }
}

/**
 * The outbound snapshots of one link: one transfer in flight (the receiver assembles one per
 * connection) and, behind it, at most one Snap message per other group, started in the order
 * they arrived. A newer Snap of a group replaces its older one, in flight or waiting: the core
 * has moved on, and the receiver drops an unfinished transfer when the next one begins, so the
 * replaced one is neither finished nor reported.
 */
export class OutboundSnapshots {
  private current: OutboundSnapshot | undefined;
  private readonly waiting = new Map<GroupId, Message>();
  private nextTransferId = 1;

  constructor(
    private readonly chunkBytes: number,
    private readonly log: Logger,
  ) {}

  /** Queues `m` of `group`; returns how many older Snap messages it replaced (0 or 1). */
  add(m: Message, group: GroupId): number {
    const current = this.current;
    if (current && current.group !== group) {
      const replaced = this.waiting.has(group) ? 1 : 0;
      this.waiting.set(group, m);
      return replaced;
    }
    if (current) this.log.info({ transfer: current.transferId, group }, 'snapshot transfer superseded');
    this.start(m, group);
    return current ? 1 : 0;
  }

  /** The transfer to write from, starting the longest-waiting one if none is in flight. */
  active(): OutboundSnapshot | undefined {
    if (!this.current) {
      for (const [group, m] of this.waiting) {
        this.waiting.delete(group);
        this.start(m, group);
        break;
      }
    }
    return this.current;
  }

  /** The transfer in flight has produced its last frame. */
  finished(): void {
    this.current = undefined;
  }

  get pending(): boolean {
    return this.current !== undefined || this.waiting.size > 0;
  }

  /** Snapshot data not yet handed to the socket, in flight and waiting. */
  get pendingBytes(): number {
    let n = this.current?.pendingBytes ?? 0;
    for (const m of this.waiting.values()) n += m.snapshot?.data.length ?? 0;
    return n;
  }

  /** Forgets every transfer (the connection is gone); returns the groups whose Snap was lost. */
  clear(): GroupId[] {
    const lost = this.current ? [this.current.group] : [];
    lost.push(...this.waiting.keys());
    this.current = undefined;
    this.waiting.clear();
    return lost;
  }

  private start(m: Message, group: GroupId): void {
    this.current = new OutboundSnapshot(this.nextTransferId++, m, this.chunkBytes, group);
    this.log.info({ transfer: this.current.transferId, group, bytes: m.snapshot?.data.length, index: m.snapshot?.meta.index }, 'sending snapshot');
  }
}

export class SnapshotTransferError extends Error {
  override name = 'SnapshotTransferError';
}

/** Concurrent incoming transfers, shared by every connection of one node. */
export class SnapshotSlots {
  private used = 0;

  constructor(readonly max: number) {}

  get inUse(): number {
    return this.used;
  }

  tryAcquire(): boolean {
    if (this.used >= this.max) return false;
    this.used++;
    return true;
  }

  release(): void {
    this.used--;
  }
}

export interface AssemblerOptions {
  /** Largest snapshot accepted; a larger one is refused before any memory is allocated. */
  maxBytes: number;
  /** Shared with the node's other connections; a transfer needs a free slot to begin. */
  slots: SnapshotSlots;
  /** A transfer with no chunk for this long is dropped. */
  timeoutMs: number;
  /** Told when a transfer is dropped without completing (for logs). */
  onDrop: (transferId: number, reason: string) => void;
}

interface Transfer {
  id: number;
  group: GroupId;
  message: Message;
  buf: Buffer;
  received: number;
  timer: NodeJS.Timeout;
}

/** Reassembles the chunked snapshots arriving on one connection. */
export class SnapshotAssembler {
  private current: Transfer | undefined;

  constructor(private readonly opts: AssemblerOptions) {}

  /** Bytes held by the transfer in progress (0 when none). */
  get heldBytes(): number {
    return this.current?.buf.length ?? 0;
  }

  begin(b: SnapBegin): void {
    if (this.current) this.drop(`superseded by transfer ${b.transferId}`);
    if (b.totalBytes > this.opts.maxBytes) {
      this.opts.onDrop(b.transferId, `snapshot of ${b.totalBytes} bytes exceeds the ${this.opts.maxBytes}-byte limit`);
      return;
    }
    if (!this.opts.slots.tryAcquire()) {
      this.opts.onDrop(b.transferId, `${this.opts.slots.max} incoming snapshot transfers are already in progress`);
      return;
    }
    let buf: Buffer;
    try {
      // allocUnsafe is safe here: the message is delivered only after every byte was written.
      buf = Buffer.allocUnsafe(b.totalBytes);
    } catch (err) {
      this.opts.slots.release();
      this.opts.onDrop(b.transferId, `cannot allocate ${b.totalBytes} bytes: ${(err as Error).message}`);
      return;
    }
    const timer = setTimeout(() => this.drop('timed out'), this.opts.timeoutMs);
    timer.unref();
    this.current = { id: b.transferId, group: b.group, message: b.message, buf, received: 0, timer };
  }

  /**
   * Adds a chunk; returns the complete Snap message after the last one. Chunks of a transfer
   * that was dropped (timed out, superseded, refused) are ignored: the sender may not know yet.
   * A chunk out of order or past the end is a protocol violation.
   */
  chunk(c: SnapChunk): { group: GroupId; message: Message } | undefined {
    const t = this.current;
    if (!t || t.id !== c.transferId) return undefined;
    if (c.offset !== t.received) {
      this.drop('out of order');
      throw new SnapshotTransferError(`snapshot chunk at offset ${c.offset}, expected ${t.received}`);
    }
    if (t.received + c.data.length > t.buf.length) {
      this.drop('overflow');
      throw new SnapshotTransferError(`snapshot chunk overruns the announced ${t.buf.length} bytes`);
    }
    t.buf.set(c.data, t.received);
    t.received += c.data.length;
    if (t.received < t.buf.length) {
      t.timer.refresh();
      return undefined;
    }
    clearTimeout(t.timer);
    this.current = undefined;
    this.opts.slots.release();
    const m = t.message;
    return { group: t.group, message: { ...m, snapshot: { meta: m.snapshot!.meta, data: t.buf } } };
  }

  /** Drops the transfer in progress, if any (connection closed). */
  dispose(): void {
    if (this.current) this.drop('connection closed');
  }

  private drop(reason: string): void {
    const t = this.current;
    if (!t) return;
    clearTimeout(t.timer);
    this.current = undefined;
    this.opts.slots.release();
    this.opts.onDrop(t.id, reason);
  }
}
