/**
 * The leader's lease for lease reads, measured on a monotonic clock (issue 11, hole 2;
 * dissertation 6.4.1; the rule is in docs/architecture.md, "The lease rule").
 *
 * Why here and not in the core: the core counts ticks, one per timer callback with no catch-up,
 * so an event-loop stall (GC, a slow fsync callback, SIGSTOP) stretches a tick-counted lease by
 * the whole stall, while the followers' election timers, on other event loops, keep running.
 * The core stays clock-free and asks `holds(term, round)` (RaftConfig.leaseHolds); this class
 * answers from real time.
 *
 * A lease starts when a confirming round's heartbeats *leave* (`sent`, called as the node hands
 * them to the transport, which may be later than the core started the round), since a follower
 * resets its election timer only when the heartbeat reaches it. A quorum that confirmed round r
 * acknowledged r or a later round, so the lease starts at the earliest first send of any round
 * >= r (rounds normally leave in order; a Ready held behind a save can send them out of order).
 *
 * The only dependency is the injected clock: `now()` in monotonic milliseconds
 * (performance.now in the node; a simulated, possibly skewed clock in test/sim).
 */
import { decodeRound } from '../raft/read-index.ts';
import { type Message, MessageType } from '../raft/types.ts';

export interface LeaseOptions {
  /** Monotonic milliseconds; never the wall clock (it jumps, and the clock nemesis skews it). */
  now: () => number;
  /** How long a lease lasts from its round's first send (leaseDurationMs). */
  durationMs: number;
}

/**
 * How fast any node's monotonic clock may run against any other's, as a fraction: the lease is
 * divided by 1 + this (dissertation 6.4.1, "clock drift bound"). NTP slews a clock by at most
 * 500 ppm; 1% leaves a twentyfold margin.
 */
export const LEASE_CLOCK_DRIFT = 0.01;

/**
 * The lease for `--tick-ms` and `--election-ticks`: after a heartbeat reaches a follower, the
 * follower neither campaigns nor grants a vote until its election timer has ticked
 * `electionTicks` times. Its first tick may come at once (timer phase), each later one at least
 * `tickMs` after the previous on its event loop's clock, which reads whole milliseconds (1 ms
 * of rounding). So no other leader is elected within (electionTicks - 1) * tickMs - 1 ms of the
 * heartbeat's arrival, measured on the follower's clock; divided by the drift bound, on ours.
 */
export function leaseDurationMs(tickMs: number, electionTicks: number, drift = LEASE_CLOCK_DRIFT): number {
  return Math.max(0, ((electionTicks - 1) * tickMs - 1) / (1 + drift));
}

export class LeaseClock {
  /** The leader term the recorded rounds belong to (round numbers restart in every term). */
  private term = -1;
  /** When each recent round of `term` first left, in send order. */
  private readonly sentAt = new Map<number, number>();
  /** The highest round forgotten for being older than a lease: no lease from rounds up to it. */
  private forgotten = 0;
  /**
   * `holds` is asked for every RESP read in lease mode (RaftNode.leaseRead), mostly for the same
   * round: when the lease of `memoRound` ends, valid while `sentAt` has not changed (`changes`).
   */
  private changes = 0;
  private memoChanges = -1;
  private memoRound = -1;
  private memoEnd = Number.NEGATIVE_INFINITY;

  constructor(private readonly opts: LeaseOptions) {}

  /** A heartbeat of leader term `term` carrying confirmation round `round` leaves now. */
  sent(term: number, round: number): void {
    if (term < this.term) return;
    const now = this.opts.now();
    if (term > this.term) {
      this.term = term;
      this.sentAt.clear();
      this.forgotten = 0;
    }
    this.changes++;
    if (!this.sentAt.has(round)) this.sentAt.set(round, now);
    // Rounds older than a lease can start none: forget them (bounded memory between reads).
    for (const [r, t] of this.sentAt) {
      if (t + this.opts.durationMs > now) break;
      this.sentAt.delete(r);
      this.forgotten = Math.max(this.forgotten, r);
    }
  }

  /** Records the rounds of the heartbeats in `messages`, which leave now. */
  sending(messages: readonly Message[]): void {
    for (const m of messages) {
      if (m.type !== MessageType.Heartbeat || !m.context) continue;
      const round = decodeRound(m.context);
      if (round !== undefined) this.sent(m.term, round);
    }
  }

  /**
   * Whether the lease begun by quorum-confirmed round `round` of `term` holds now. False for a
   * round never seen leaving (a single voter confirms rounds it never sends) and for a round
   * whose successors were forgotten: too old either way, or unknown, which is the same.
   */
  holds(term: number, round: number): boolean {
    if (term !== this.term || round <= this.forgotten) return false;
    if (round !== this.memoRound || this.changes !== this.memoChanges) {
      let start = Number.POSITIVE_INFINITY;
      for (const [r, t] of this.sentAt) if (r >= round && t < start) start = t;
      this.memoRound = round;
      this.memoChanges = this.changes;
      this.memoEnd = start === Number.POSITIVE_INFINITY ? Number.NEGATIVE_INFINITY : start + this.opts.durationMs;
    }
    return this.opts.now() < this.memoEnd;
  }
}
