import { majorityValue } from './quorum.ts';
import type { NodeId } from './types.ts';

/**
 * The leader's queue of ReadIndex requests awaiting leadership confirmation (dissertation 6.4).
 *
 * Confirmation goes in numbered rounds: a round is a heartbeat broadcast carrying its number,
 * and a follower's HeartbeatResp echoing number r (or a later one) proves the follower still
 * accepted this leader after round r started. A read is released only by a round that started
 * after the read arrived; reads arriving while a round is in flight all wait for the next one,
 * so one round serves every read waiting at the time.
 */
export interface PendingRead {
  /** Who asked: the leader itself or a follower that forwarded the read. */
  from: NodeId;
  context: Uint8Array;
  /** The leader's commit index when the read arrived. */
  index: number;
  round: number;
}

export class ReadIndexQueue {
  private pending: PendingRead[] = [];
  private lastRound = 0;
  private readonly acked = new Map<NodeId, number>();

  /** Queues a read; returns the number of a round to broadcast now, if one must start. */
  add(read: Omit<PendingRead, 'round'>): number | undefined {
    const inFlight = this.pending.some((r) => r.round === this.lastRound);
    if (inFlight) {
      this.pending.push({ ...read, round: this.lastRound + 1 });
      return undefined;
    }
    this.lastRound++;
    this.pending.push({ ...read, round: this.lastRound });
    return this.lastRound;
  }

  /** The round a regular heartbeat carries: starts the waiting round early, if there is one. */
  heartbeatRound(): number | undefined {
    if (this.pending.length === 0) return undefined;
    if (this.pending.some((r) => r.round > this.lastRound)) this.lastRound++;
    return this.lastRound;
  }

  ack(from: NodeId, round: number): void {
    if (round > this.lastRound) return; // not a round of this leadership
    this.acked.set(from, Math.max(this.acked.get(from) ?? 0, round));
  }

  /**
   * Takes the reads whose round a quorum of `voters` confirmed (`self` always confirms). If reads
   * are still waiting for a round that has not started, `nextRound` says to start it now.
   */
  release(voters: readonly NodeId[], self: NodeId): { released: PendingRead[]; nextRound?: number } {
    if (this.pending.length === 0) return { released: [] };
    const confirmed = majorityValue(voters, (id) => (id === self ? this.lastRound : (this.acked.get(id) ?? 0)));
    const released = this.pending.filter((r) => r.round <= confirmed);
    if (released.length === 0) return { released };
    this.pending = this.pending.filter((r) => r.round > confirmed);
    if (this.pending.length > 0 && this.pending[0].round > this.lastRound) {
      this.lastRound++;
      return { released, nextRound: this.lastRound };
    }
    return { released };
  }

  size(): number {
    return this.pending.length;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Heartbeat context: the round number in decimal ASCII. */
export function encodeRound(round: number): Uint8Array {
  return encoder.encode(String(round));
}

export function decodeRound(ctx: Uint8Array): number | undefined {
  const text = decoder.decode(ctx);
  if (!/^[1-9][0-9]{0,15}$/.test(text)) return undefined;
  return Number(text);
}
