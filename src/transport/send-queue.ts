/**
 * The bounded queue of one outbound link: messages waiting for the socket, with their encoded
 * sizes. It refuses what would pass either bound (the caller counts that as a drop; Raft
 * retransmits), and hands out batches in order for one frame each.
 */
import type { Message } from '../raft/types.ts';
import { varintSize } from './bytes.ts';
import { HEADER_SIZE } from './codec.ts';

export interface SendQueueLimits {
  maxBytes: number;
  maxMessages: number;
}

export interface Batch {
  messages: Message[];
  /** Body size of each message, as computed by `messageSize`. */
  sizes: number[];
}

export class SendQueue {
  private messages: Message[] = [];
  private sizes: number[] = [];
  /** Index of the first message not taken yet (shifting arrays per batch would be O(n)). */
  private head = 0;
  private queuedBytes = 0;

  constructor(private readonly limits: SendQueueLimits) {}

  get length(): number {
    return this.messages.length - this.head;
  }

  /** Encoded bytes waiting. */
  get bytes(): number {
    return this.queuedBytes;
  }

  /** Appends `m` (whose body is `size` bytes); false, and nothing queued, if a bound is hit. */
  push(m: Message, size: number): boolean {
    if (this.length >= this.limits.maxMessages || this.queuedBytes + size > this.limits.maxBytes) return false;
    this.messages.push(m);
    this.sizes.push(size);
    this.queuedBytes += size;
    return true;
  }

  /**
   * Removes and returns the oldest messages whose batch frame fits in `maxFrameBytes` (at
   * least one message, however large), or undefined when empty.
   */
  take(maxFrameBytes: number): Batch | undefined {
    if (this.length === 0) return undefined;
    const start = this.head;
    // Frame bytes so far, counting the message-count varint at its widest (3 bytes: < 2^21).
    let frame = HEADER_SIZE + 3 + varintSize(this.sizes[start]) + this.sizes[start];
    let end = start + 1;
    while (end < this.messages.length) {
      const next = varintSize(this.sizes[end]) + this.sizes[end];
      if (frame + next > maxFrameBytes) break;
      frame += next;
      end++;
    }
    const batch = { messages: this.messages.slice(start, end), sizes: this.sizes.slice(start, end) };
    for (const s of batch.sizes) this.queuedBytes -= s;
    this.head = end;
    this.compact();
    return batch;
  }

  /** Empties the queue; returns how many messages were discarded. */
  clear(): number {
    const n = this.length;
    this.messages = [];
    this.sizes = [];
    this.head = 0;
    this.queuedBytes = 0;
    return n;
  }

  private compact(): void {
    if (this.head === this.messages.length) {
      this.clear();
    } else if (this.head > 1024 && this.head * 2 > this.messages.length) {
      this.messages = this.messages.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }
}
