/**
 * The sending half of one outbound link: what waits for the socket and when it is written.
 * PeerLink (link.ts) owns the connection (dial, handshake, keep-alive, redial); this owns the
 * messages: the bounded send queue, the snapshot transfers, the flush schedule, and the counts
 * of what was sent and dropped. Its only view of the connection is `OutboxHost.socket()`, the
 * socket while the link is up.
 *
 * Per flush, the messages waiting go out as batch frames (each message tagged with its group),
 * less those a later waiting message of the same group covers (a commit-only App, an ack:
 * supersede.ts), and the heartbeats of all groups as one coalesced Heartbeats frame (heartbeats.ts). Anything
 * but a plain heartbeat flushes in a microtask, as soon as the caller's synchronous work ends;
 * a plain heartbeat (no read-confirmation context) waits for the end of the event-loop turn, so
 * that every group ticking in this turn lands in the same frame.
 *
 * Memory is bounded by three limits: the queue (messages and bytes waiting for the socket),
 * the socket's own buffer (we stop writing once ws's bufferedAmount passes maxBufferedBytes,
 * so a slow or stalled peer backs up into the queue, and the queue drops), and one snapshot
 * transfer in flight, which references the snapshot's data rather than copying it.
 */
import type { Logger } from 'pino';
import type WebSocket from 'ws';
import { type Message, MessageType } from '../raft/types.ts';
import { CodecError } from './bytes.ts';
import { encodeBatch, HEADER_SIZE, messageSize } from './codec.ts';
import type { GroupId } from './groups.ts';
import { coalescible, encodeHeartbeats, heartbeatSize } from './heartbeats.ts';
import type { LinkLimits } from './link.ts';
import { SendQueue } from './send-queue.ts';
import { OutboundSnapshots } from './snapshot-chunks.ts';

/** What the outbox needs of its link. */
export interface OutboxHost {
  /** The socket while the link is up (authenticated); undefined otherwise. */
  socket(): WebSocket | undefined;
  /** The link was closed for good: snapshot statuses are no longer reported. */
  closed(): boolean;
  /** A Snap message of `group` was fully written (true) or lost (false). */
  onSnapshotStatus(group: GroupId, ok: boolean): void;
}

/** The outbox's counts, part of LinkStats. */
export interface OutboxStats {
  sent: number;
  dropped: number;
  queuedBytes: number;
  queuedMessages: number;
  snapshotPendingBytes: number;
  heartbeatFrames: number;
  heartbeatsCoalesced: number;
  /** Frame bytes handed to the socket (WebSocket payloads: batches, heartbeats, snapshot chunks). */
  sentBytes: number;
  /** Frames handed to the socket (batches, heartbeats, snapshot chunks): messages per frame is sent / frames. */
  frames: number;
  /** Messages left out at flush because a later waiting one covered them (supersede.ts; not in `sent`). */
  superseded: number;
}

export class Outbox {
  private readonly queue: SendQueue;
  /** One transfer in flight; other groups' Snap messages wait behind it, one per group. */
  private readonly snapshots: OutboundSnapshots;
  private flushScheduled = false;
  /** The end-of-turn flush that plain heartbeats wait for. */
  private turnFlush: NodeJS.Immediate | undefined;
  private sent = 0;
  private dropped = 0;
  private heartbeatFrames = 0;
  private heartbeatsCoalesced = 0;
  private sentBytes = 0;
  private frames = 0;

  constructor(
    private readonly limits: LinkLimits,
    /** Send heartbeats as coalesced Heartbeats frames (false: in the batches, as version 1 did). */
    private readonly coalesceHeartbeats: boolean,
    private readonly log: Logger,
    private readonly host: OutboxHost,
  ) {
    this.queue = new SendQueue({ maxBytes: limits.maxQueueBytes, maxMessages: limits.maxQueueMessages });
    this.snapshots = new OutboundSnapshots(limits.snapshotChunkBytes, log);
  }

  /** Queues `m` of `group`; false when it was dropped (see PeerLink.send). */
  send(m: Message, group: GroupId): boolean {
    if (m.type === MessageType.Snap) return this.sendSnapshot(m, group);
    if (!this.host.socket()) return this.drop();
    const beat = this.coalesceHeartbeats && coalescible(m);
    let size: number;
    try {
      size = beat ? heartbeatSize(group, m) : messageSize(m);
    } catch (e) {
      if (!(e instanceof CodecError)) throw e;
      this.log.error({ err: e, type: m.type, group }, 'unencodable message dropped');
      return this.drop();
    }
    if (HEADER_SIZE + 16 + size > this.limits.maxPayload) {
      this.log.warn({ bytes: size, maxPayload: this.limits.maxPayload }, 'message larger than maxPayload dropped');
      return this.drop();
    }
    if (beat) {
      if (!this.queue.pushHeartbeat(m, size, group)) return this.drop();
      // A read-confirmation round is waiting on this one: it must not wait for the turn's end.
      this.scheduleFlush(m.context !== undefined);
      return true;
    }
    if (!this.queue.push(m, size, group)) return this.drop();
    this.scheduleFlush(true);
    return true;
  }

  stats(): OutboxStats {
    return {
      sent: this.sent,
      dropped: this.dropped,
      queuedBytes: this.queue.bytes,
      queuedMessages: this.queue.length,
      snapshotPendingBytes: this.snapshots.pendingBytes,
      heartbeatFrames: this.heartbeatFrames,
      heartbeatsCoalesced: this.heartbeatsCoalesced,
      sentBytes: this.sentBytes,
      frames: this.frames,
      superseded: this.queue.superseded,
    };
  }

  /** Cancels the end-of-turn flush: the link is closing. */
  stop(): void {
    clearImmediate(this.turnFlush);
  }

  /** Everything waiting is lost with the connection; Raft retransmits what matters. */
  discard(): void {
    this.dropped += this.queue.clear();
    clearImmediate(this.turnFlush);
    this.turnFlush = undefined;
    const lost = this.snapshots.clear();
    this.dropped += lost.length;
    if (!this.host.closed()) for (const g of lost) this.host.onSnapshotStatus(g, false);
  }

  private drop(): false {
    this.dropped++;
    return false;
  }

  private sendSnapshot(m: Message, group: GroupId): boolean {
    if (!this.host.socket()) return this.snapshotLost(group);
    try {
      messageSize(m);
    } catch (e) {
      if (!(e instanceof CodecError)) throw e;
      this.log.error({ err: e, group }, 'unencodable snapshot message dropped');
      return this.snapshotLost(group);
    }
    this.dropped += this.snapshots.add(m, group);
    this.scheduleFlush(true);
    return true;
  }

  /** Counts a Snap that never left and reports it after the caller's send returns. */
  private snapshotLost(group: GroupId): false {
    this.drop();
    queueMicrotask(() => {
      if (!this.host.closed()) this.host.onSnapshotStatus(group, false);
    });
    return false;
  }

  /**
   * `now`: in a microtask. The runtime hands over each Ready's messages in one call, so they
   * still leave as one frame, but without waiting a loop turn (that turn's socket work would be
   * added to every hop of every write). Otherwise (plain heartbeats) at the end of this turn,
   * unless an earlier flush takes them along. Messages that pile up while the socket is busy go
   * out together from onWritten.
   */
  private scheduleFlush(now: boolean): void {
    if (this.flushScheduled) return;
    if (now) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flush());
    } else {
      this.turnFlush ??= setImmediate(() => {
        this.turnFlush = undefined;
        this.flush();
      });
    }
  }

  private readonly onWritten = (err?: Error) => {
    if (!err && (this.queue.length > 0 || this.snapshots.pending)) this.scheduleFlush(true);
  };

  private write(ws: WebSocket, frame: Uint8Array): void {
    this.sentBytes += frame.byteLength;
    this.frames++;
    ws.send(frame, this.onWritten);
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.turnFlush) {
      clearImmediate(this.turnFlush);
      this.turnFlush = undefined;
    }
    const ws = this.host.socket();
    if (!ws) return;
    const { maxBufferedBytes, maxBatchBytes } = this.limits;
    while (this.queue.batched > 0 && ws.bufferedAmount < maxBufferedBytes) {
      const { messages, sizes, groups } = this.queue.take(maxBatchBytes)!;
      this.sent += messages.length;
      this.write(ws, encodeBatch(messages, sizes, groups));
    }
    while (this.queue.heartbeats > 0 && ws.bufferedAmount < maxBufferedBytes) {
      const { messages, sizes, groups } = this.queue.takeHeartbeats(maxBatchBytes)!;
      this.sent += messages.length;
      this.heartbeatFrames++;
      this.heartbeatsCoalesced += messages.length;
      this.write(ws, encodeHeartbeats(groups, messages, sizes));
    }
    for (let transfer = this.snapshots.active(); transfer && ws.bufferedAmount < maxBufferedBytes; transfer = this.snapshots.active()) {
      const frame = transfer.nextFrame()!;
      if (!transfer.finished) {
        this.write(ws, frame);
        continue;
      }
      this.snapshots.finished();
      this.sent++;
      this.sentBytes += frame.byteLength;
      this.frames++;
      ws.send(frame, (err?: Error) => {
        if (!err) this.log.info({ transfer: transfer.transferId, group: transfer.group }, 'snapshot sent');
        if (!this.host.closed()) this.host.onSnapshotStatus(transfer.group, !err);
        this.onWritten(err);
      });
    }
  }
}
