import { majorityValue, quorumSize } from './quorum.ts';
import type { NodeId } from './types.ts';

/**
 * The leader's leadership confirmations (dissertation 6.4) and the ReadIndex requests waiting
 * for them.
 *
 * Confirmation goes in numbered rounds: a round is a heartbeat broadcast carrying its number,
 * and a follower's HeartbeatResp echoing number r (or a later one) proves the follower still
 * accepted this leader after round r started. A read is released only by a round that started
 * after the read arrived; reads arriving while a round is in flight all wait for the next one,
 * so one round serves every read waiting at the time.
 *
 * The same rounds give the lease (dissertation 6.4.1): once a quorum confirmed a round, no
 * follower of that quorum votes for anyone else until an election timeout after the round's
 * heartbeat reached it, however late its answer arrived, because it reset its election timer
 * then. How long ago that was is a matter of real time, which the core does not read: it keeps
 * the latest confirmed round, and the node, which saw when that round's heartbeats left, says
 * whether its lease still holds (RaftConfig.leaseHolds, src/node/lease.ts).
 */
export interface PendingRead {
  /** Who asked: the leader itself or a follower that forwarded the read. */
  from: NodeId;
  context: Uint8Array;
  /** The leader's commit index when the read arrived. */
  index: number;
  round: number;
  /** Message.narrow: its round may ask only a quorum. */
  narrow: boolean;
}

export class ReadIndexQueue {
  private pending: PendingRead[] = [];
  private lastRound = 0;
  private readonly acked = new Map<NodeId, number>();
  /** The latest round a quorum confirmed; 0 before any. */
  private confirmed = 0;

  private startRound(): number {
    return ++this.lastRound;
  }

  /** Queues a read; returns the number of a round to broadcast now, if one must start. */
  add(read: Omit<PendingRead, 'round'>): number | undefined {
    const inFlight = this.pending.some((r) => r.round === this.lastRound);
    if (inFlight) {
      this.pending.push({ ...read, round: this.lastRound + 1 });
      return undefined;
    }
    const round = this.startRound();
    this.pending.push({ ...read, round });
    return round;
  }

  /**
   * The round a regular heartbeat carries: a new one if reads wait for it or `renewLease` asks
   * for one, else the one in flight (a resend), else none.
   */
  heartbeatRound(renewLease: boolean): number | undefined {
    if (renewLease || this.pending.some((r) => r.round > this.lastRound)) return this.startRound();
    return this.pending.length > 0 ? this.lastRound : undefined;
  }

  /**
   * Whom read round `round` asks. Every follower, so the fastest answers confirm it, unless
   * every read waiting for it came `narrow` (its caller had a request in flight: reads arrive
   * faster than rounds complete, and CPU, not a round's latency, is what limits them). Then the
   * fewest voters that make a quorum with `self`, those that confirmed the latest rounds first
   * (ties in `voters`' order). A round costs the leader a frame per follower and each follower a
   * wake-up, a step and an answer; with three voters, one follower's answer is all it needs.
   * Safety does not rest on whom a round asks, only on a quorum's answers; liveness does, so the
   * regular heartbeat (`heartbeatRound`) still carries the round in flight to every follower,
   * and one that answers it is asked first from then on: a follower that stopped answering
   * delays reads by at most a heartbeat interval, once.
   */
  askFor(voters: readonly NodeId[], self: NodeId, round: number): NodeId[] {
    const others = voters.filter((id) => id !== self);
    const needed = quorumSize(voters.length) - (others.length < voters.length ? 1 : 0);
    if (needed >= others.length || this.pending.some((r) => r.round === round && !r.narrow)) return others;
    const acked = (id: NodeId) => this.acked.get(id) ?? 0;
    // A stable sort: equal rounds keep voters' order.
    return others.sort((a, b) => acked(b) - acked(a)).slice(0, needed);
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
    const confirmed = majorityValue(voters, (id) => (id === self ? this.lastRound : (this.acked.get(id) ?? 0)));
    this.confirmed = Math.max(this.confirmed, confirmed);
    const released = this.pending.filter((r) => r.round <= confirmed);
    if (released.length === 0) return { released };
    this.pending = this.pending.filter((r) => r.round > confirmed);
    if (this.pending.length > 0 && this.pending[0].round > this.lastRound) {
      return { released, nextRound: this.startRound() };
    }
    return { released };
  }

  /**
   * The latest round a quorum confirmed (0: none yet). Every member of that quorum received a
   * heartbeat carrying this round or a later one, so its election timer restarted no earlier
   * than the first send of any such round.
   */
  confirmedRound(): number {
    return this.confirmed;
  }

  size(): number {
    return this.pending.length;
  }
}

const encoder = new TextEncoder();

/** Heartbeat context: the round number in decimal ASCII. */
export function encodeRound(round: number): Uint8Array {
  return encoder.encode(String(round));
}

/** ASCII decimal, no leading zero, at most 16 digits; parsed by hand (every heartbeat answer). */
export function decodeRound(ctx: Uint8Array): number | undefined {
  const n = ctx.length;
  if (n === 0 || n > 16 || ctx[0] === 0x30) return undefined;
  let round = 0;
  for (let i = 0; i < n; i++) {
    const digit = ctx[i] - 0x30;
    if (digit < 0 || digit > 9) return undefined;
    round = round * 10 + digit;
  }
  return round;
}
