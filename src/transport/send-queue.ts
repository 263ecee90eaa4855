/**
 * The bounded queue of one outbound link: messages waiting for the socket, with their groups
 * and encoded sizes, and beside them the heartbeats waiting for their coalesced frame
 * (heartbeats.ts). It refuses what would pass either bound, counting both kinds together (the
 * caller counts that as a drop; Raft retransmits), and hands out batches in order for one frame
 * each.
 */
import type { Message } from '../raft/types.ts';
import { varintSize } from './bytes.ts';
import { HEADER_SIZE, MAX_MESSAGES_PER_BATCH } from './codec.ts';
import { type GroupId, GroupIds } from './groups.ts';
import { heartbeatsFrameSize, MAX_HEARTBEATS_PER_FRAME } from './heartbeats.ts';
import { supersededIn } from './supersede.ts';

export interface SendQueueLimits {
  maxBytes: number;
  maxMessages: number;
}

export interface Batch {
  messages: Message[];
  /** Body size of each message, as computed by `messageSize` (or `heartbeatSize`). */
  sizes: number[];
  groups: GroupId[];
}

export class SendQueue {
  private messages: Message[] = [];
  private sizes: number[] = [];
  private groups: GroupId[] = [];
  /** Index of the first message not taken yet (shifting arrays per batch would be O(n)). */
  private head = 0;
  private queuedBytes = 0;
  private beats: Batch = { messages: [], sizes: [], groups: [] };
  /** Messages left out because a later one waiting in the queue covered them (supersede.ts). */
  superseded = 0;
  /** Pushed since the queue last looked for superseded messages: one look per flush, not per frame. */
  private unscanned = false;

  constructor(private readonly limits: SendQueueLimits) {}

  /** Messages waiting, heartbeats included. */
  get length(): number {
    return this.messages.length - this.head + this.beats.messages.length;
  }

  /** Heartbeats waiting for their coalesced frame. */
  get heartbeats(): number {
    return this.beats.messages.length;
  }

  /** Messages waiting for a batch frame. */
  get batched(): number {
    return this.messages.length - this.head;
  }

  /** Encoded bytes waiting. */
  get bytes(): number {
    return this.queuedBytes;
  }

  private full(size: number): boolean {
    return this.length >= this.limits.maxMessages || this.queuedBytes + size > this.limits.maxBytes;
  }

  /** Appends `m` of `group` (whose body is `size` bytes); false, and nothing queued, if a bound is hit. */
  push(m: Message, size: number, group: GroupId = GroupIds.Default): boolean {
    if (this.full(size)) return false;
    this.messages.push(m);
    this.sizes.push(size);
    this.groups.push(group);
    this.queuedBytes += size;
    this.unscanned = true;
    return true;
  }

  /** Appends a coalescible heartbeat whose compact entry is `size` bytes, under the same bounds. */
  pushHeartbeat(m: Message, size: number, group: GroupId): boolean {
    if (this.full(size)) return false;
    this.beats.messages.push(m);
    this.beats.sizes.push(size);
    this.beats.groups.push(group);
    this.queuedBytes += size;
    return true;
  }

  /**
   * Removes and returns the oldest messages whose batch frame fits in `maxFrameBytes` (at
   * least one message, however large; at most MAX_MESSAGES_PER_BATCH), or undefined when none
   * waits.
   */
  take(maxFrameBytes: number): Batch | undefined {
    if (this.batched === 0) return undefined;
    this.leaveOutSuperseded();
    const start = this.head;
    // Frame bytes so far, counting the message-count varint at its widest (3 bytes: < 2^21).
    let frame = HEADER_SIZE + 3 + this.entrySize(start);
    let end = start + 1;
    const last = Math.min(this.messages.length, start + MAX_MESSAGES_PER_BATCH);
    while (end < last) {
      const next = this.entrySize(end);
      if (frame + next > maxFrameBytes) break;
      frame += next;
      end++;
    }
    const batch = {
      messages: this.messages.slice(start, end),
      sizes: this.sizes.slice(start, end),
      groups: this.groups.slice(start, end),
    };
    for (const s of batch.sizes) this.queuedBytes -= s;
    this.head = end;
    this.compact();
    return batch;
  }

  /**
   * Removes and returns the oldest heartbeats whose Heartbeats frame fits in `maxFrameBytes`
   * (all of them, normally: a thousand groups' heartbeats take a few KiB), or undefined.
   */
  takeHeartbeats(maxFrameBytes: number): Batch | undefined {
    const all = this.beats;
    if (all.messages.length === 0) return undefined;
    let end = all.messages.length;
    if (end > MAX_HEARTBEATS_PER_FRAME || heartbeatsFrameSize(all.sizes) > maxFrameBytes) {
      const most = Math.min(all.sizes.length, MAX_HEARTBEATS_PER_FRAME);
      let frame = HEADER_SIZE + 3 + all.sizes[0];
      end = 1;
      while (end < most && frame + all.sizes[end] <= maxFrameBytes) frame += all.sizes[end++];
    }
    const out = end === all.messages.length ? all : { messages: all.messages.slice(0, end), sizes: all.sizes.slice(0, end), groups: all.groups.slice(0, end) };
    this.beats =
      end === all.messages.length
        ? { messages: [], sizes: [], groups: [] }
        : { messages: all.messages.slice(end), sizes: all.sizes.slice(end), groups: all.groups.slice(end) };
    for (const s of out.sizes) this.queuedBytes -= s;
    return out;
  }

  /** Empties the queue; returns how many messages were discarded. */
  clear(): number {
    const n = this.length;
    this.messages = [];
    this.sizes = [];
    this.groups = [];
    this.head = 0;
    this.queuedBytes = 0;
    this.beats = { messages: [], sizes: [], groups: [] };
    return n;
  }

  /**
   * Drops the waiting messages that a later waiting one covers (a commit-only App, an ack;
   * supersede.ts), across every Ready queued since the last flush: what one flush sends is what
   * the peer would have learnt from all of it.
   */
  private leaveOutSuperseded(): void {
    if (!this.unscanned) return;
    this.unscanned = false;
    if (this.batched < 2) return;
    const drop = supersededIn(this.messages, this.head, this.messages.length, this.groups);
    if (!drop) return;
    const keep = (_: unknown, i: number) => !drop.has(i + this.head);
    for (const i of drop) this.queuedBytes -= this.sizes[i];
    this.messages = this.messages.slice(this.head).filter(keep);
    this.sizes = this.sizes.slice(this.head).filter(keep);
    this.groups = this.groups.slice(this.head).filter(keep);
    this.head = 0;
    this.superseded += drop.size;
  }

  /** Bytes message `i` adds to a batch frame: its group, its length prefix and its body. */
  private entrySize(i: number): number {
    return varintSize(this.groups[i]) + varintSize(this.sizes[i]) + this.sizes[i];
  }

  private compact(): void {
    if (this.head === this.messages.length) {
      this.messages = [];
      this.sizes = [];
      this.groups = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.messages.length) {
      this.messages = this.messages.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.groups = this.groups.slice(this.head);
      this.head = 0;
    }
  }
}
